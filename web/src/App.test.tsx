import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { AppRoutes } from './App';
import { likedHint } from './pages/DashboardPage';
import { renderWithApp } from './test/render';

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
}

function call(i: number) {
  return {
    id: `c${i}`,
    title: `Call ${i}`,
    summary: `summary ${i}`,
    start_time: '2026-11-30T10:00:00Z',
    end_time: '2026-11-30T10:05:00Z',
    duration_seconds: 300,
    snippet: [
      { text: `they asked about `, match: false },
      { text: 'pricing', match: true },
      { text: ` on call ${i}`, match: false },
    ],
  };
}

describe('AppRoutes', () => {
  it('shows the not-found page for an unknown URL', () => {
    renderWithApp(<AppRoutes />, { path: '/no-such-page' });
    expect(screen.getByText('Page not found')).toBeInTheDocument();
  });

  it('drives the history search from ?q= and pages on with Load more', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      const url = new URL(String(input), 'http://x');
      const offset = Number(url.searchParams.get('offset'));
      const items = Array.from({ length: offset === 0 ? 20 : 5 }, (_, i) => call(offset + i));
      return json({ items, total: 25 });
    });
    renderWithApp(<AppRoutes />, { path: '/calls?q=pricing' });
    expect(await screen.findByText('Call 0')).toBeInTheDocument();
    // the filters also load their choices (playbook, profile): only the call list is checked
    const listed = () => fetch.mock.calls.map((c) => String(c[0])).filter((u) => u.startsWith('/api/calls'));
    expect(listed()[0]).toBe('/api/calls?q=pricing&limit=20&offset=0');
    expect(screen.getByRole('searchbox', { name: 'Search calls' })).toHaveValue('pricing');
    // the words that matched, marked, instead of the summary
    const first = screen.getAllByTestId('search-snippet')[0] as HTMLElement;
    expect(first).toHaveTextContent('they asked about pricing on call 0');
    expect(first.querySelector('mark')).toHaveTextContent('pricing');
    expect(screen.queryByText('summary 0')).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Call 24')).toBeInTheDocument();
    expect(listed()[1]).toBe('/api/calls?q=pricing&limit=20&offset=20');
    // everything is loaded: no more button
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
    expect(screen.getAllByRole('link', { name: /Call \d+/ })).toHaveLength(25);
  });

  it('opens a call by its id from the URL', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      if (String(input).endsWith('/agent-runs')) return json([]);
      return json({ ...call(7), transcript: [], recommendations: [], key_moments: [], action_items: [] });
    });
    renderWithApp(<AppRoutes />, { path: '/calls/c7' });
    expect(await screen.findByRole('heading', { name: 'Call 7' })).toBeInTheDocument();
    expect(fetch.mock.calls.map((c) => String(c[0]))).toContain('/api/calls/c7');
  });
});

describe('likedHint', () => {
  it('says the share is over rated tips, with the count', () => {
    expect(likedHint(2, 2)).toBe('of 4 rated tips · 2 liked · 2 disliked');
    expect(likedHint(1, 0)).toBe('of 1 rated tip · 1 liked · 0 disliked');
    expect(likedHint(0, 0)).toBe('no tips rated yet');
  });
});
