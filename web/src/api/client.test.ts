import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, errorFromBody, setUnauthorizedHandler } from './client';
import { setToken } from './token';

afterEach(() => {
  setToken(null);
  setUnauthorizedHandler(null);
});

function answer(status: number, body: unknown) {
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
}

describe('api client', () => {
  it('sends the bearer token and query parameters', async () => {
    setToken('tok-1');
    const fetch = answer(200, { items: [], total: 0 });
    await api.listCalls({ q: 'aircall pricing', limit: 20, offset: 0 });
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/calls?q=aircall+pricing&limit=20&offset=0');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-1');
  });

  it('works without a token (local mode)', async () => {
    const fetch = answer(200, { id: 'u', email: 'local@localhost', name: 'Local' });
    await expect(api.me()).resolves.toMatchObject({ id: 'u' });
    expect((fetch.mock.calls[0]?.[1]?.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('posts feedback as JSON', async () => {
    const fetch = answer(200, { ok: true });
    await api.setFeedback('rec 1', 'disliked');
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/recommendations/rec%201/feedback');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ status: 'disliked' });
  });

  it('uploads documents as multipart field "file"', async () => {
    const fetch = answer(200, { id: 'd1', title: 'pricing.md' });
    await api.uploadKnowledge(new File(['# Pricing'], 'pricing.md', { type: 'text/markdown' }));
    const body = (fetch.mock.calls[0]?.[1] as RequestInit).body as FormData;
    expect((body.get('file') as File).name).toBe('pricing.md');
  });

  it('accepts list endpoints as arrays or {items}', async () => {
    answer(200, [{ id: 'r1' }]);
    await expect(api.agentRuns('c')).resolves.toEqual([{ id: 'r1' }]);
    vi.restoreAllMocks();
    answer(200, { items: [{ id: 'd1' }] });
    await expect(api.listKnowledge()).resolves.toEqual([{ id: 'd1' }]);
  });

  it('turns error bodies into ApiError and reports 401s', async () => {
    const onUnauthorized = vi.fn();
    setUnauthorizedHandler(onUnauthorized);
    answer(401, { detail: 'token expired' });
    await expect(api.stats()).rejects.toMatchObject({ status: 401, message: 'token expired' });
    expect(onUnauthorized).toHaveBeenCalledOnce();
    expect(errorFromBody(400, { error: { code: 'bad_input', message: 'no file' } })).toMatchObject({ code: 'bad_input', message: 'no file' });
    expect(errorFromBody(422, { detail: [{ loc: ['body', 'email'], msg: 'value is not a valid email' }] }).message).toBe('value is not a valid email');
  });

  it('says the server is unreachable when fetch fails', async () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('Failed to fetch'));
    const err = await api.stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).unreachable).toBe(true);
  });
});
