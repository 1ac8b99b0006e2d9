import { screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { RecordingSettings } from '../api/after';
import { renderWithApp } from '../test/render';
import { RecordedNotice } from './RecordedNotice';

function answer(over: Partial<RecordingSettings>) {
  const body: RecordingSettings = { enabled: false, retention_days: null, codec: 'opus', can_manage: false, updated_at: null, ...over };
  return vi.spyOn(globalThis, 'fetch').mockImplementation(
    async () => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } }),
  );
}

describe('RecordedNotice', () => {
  it('says the live call is recorded when the workspace records calls', async () => {
    answer({ enabled: true, retention_days: 30 });
    renderWithApp(<RecordedNotice live />);
    expect(await screen.findByTestId('recorded-notice')).toHaveTextContent('This call is recorded and kept 30 days: tell everyone on the call.');
  });

  it('shows nothing when the workspace does not record, and asks nothing outside a call', async () => {
    const fetch = answer({ enabled: false });
    const { unmount } = renderWithApp(<RecordedNotice live />);
    await vi.waitFor(() => expect(fetch).toHaveBeenCalled());
    expect(screen.queryByTestId('recorded-notice')).not.toBeInTheDocument();
    unmount();
    fetch.mockClear();
    renderWithApp(<RecordedNotice live={false} />);
    expect(screen.queryByTestId('recorded-notice')).not.toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });
});
