import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Recording } from '../api/after';
import type { TranscriptSegment } from '../api/types';
import { Transcript } from '../components/Transcript';
import { renderWithApp } from '../test/render';
import { lineAt, RecordingPlayer } from './RecordingPlayer';

const LINES: TranscriptSegment[] = [
  { id: 'a', text: 'Thanks for taking the time today.', speaker: 'rep', start: 0.5, end: 2.5 },
  { id: 'b', text: 'Honestly that is way too expensive.', speaker: 'customer', start: 3.0, end: 5.0 },
  { id: 'c', text: 'Let me show you the pricing.', speaker: 'rep', start: 9.0, end: 11.0 },
];

function recording(over: Partial<Recording> = {}): Recording {
  return {
    status: 'ready', media_type: 'audio/ogg', seconds: 12, size_bytes: 4000, url: '/api/recordings/call1/audio?token=t1',
    url_expires_at: null, created_at: '2026-12-01T10:00:00Z', deletes_at: null, deleted_reason: null, can_delete: true, ...over,
  };
}

function serve(...answers: Recording[]) {
  let i = 0;
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
    if (init?.method === 'DELETE') return new Response(null, { status: 204 });
    const body = answers[Math.min(i++, answers.length - 1)];
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
}

function page() {
  return renderWithApp(
    <>
      <RecordingPlayer callId="call1" segments={LINES} />
      <Transcript lines={LINES} />
    </>,
  );
}

describe('lineAt', () => {
  it('finds the line being spoken, and none in a long silence', () => {
    expect(lineAt(LINES, 0.6)?.id).toBe('a');
    expect(lineAt(LINES, 3.5)?.id).toBe('b');
    expect(lineAt(LINES, 5.5)?.id).toBe('b'); // a short pause still shows the last line
    expect(lineAt(LINES, 7.5)).toBeNull();
    expect(lineAt(LINES, 0.1)).toBeNull();
  });
});

describe('RecordingPlayer', () => {
  it('plays the call from the transcript line that is clicked, and marks the line being spoken', async () => {
    serve(recording());
    const play = vi.spyOn(HTMLMediaElement.prototype, 'play').mockResolvedValue(undefined);
    page();
    const audio = (await screen.findByTestId('recording-audio')) as HTMLAudioElement;
    expect(audio.getAttribute('src')).toBe('/api/recordings/call1/audio?token=t1');
    await userEvent.click(screen.getByText('Honestly that is way too expensive.'));
    expect(audio.currentTime).toBe(3);
    expect(play).toHaveBeenCalled();
    expect(document.getElementById('seg-b')).toHaveAttribute('aria-current', 'true');
    expect(screen.getByTestId('recording-now')).toHaveTextContent('0:03 Customer: Honestly that is way too expensive.');
    // playback moves on: the mark follows the audio
    audio.currentTime = 9.5;
    fireEvent.timeUpdate(audio);
    expect(document.getElementById('seg-c')).toHaveAttribute('aria-current', 'true');
    expect(document.getElementById('seg-b')).not.toHaveAttribute('aria-current');
  });

  it('gets a new link when the old one ran out, and says why a recording is gone', async () => {
    const fetch = serve(recording(), recording({ url: '/api/recordings/call1/audio?token=t2' }), recording({ status: 'deleted', url: null, deleted_reason: 'retention', can_delete: false }));
    page();
    const audio = (await screen.findByTestId('recording-audio')) as HTMLAudioElement;
    Object.defineProperty(audio, 'error', { value: { code: 4 }, configurable: true });
    fireEvent.error(audio);
    await waitFor(() => expect(screen.getByTestId('recording-audio').getAttribute('src')).toContain('token=t2'));
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    await userEvent.click(screen.getByRole('button', { name: 'Delete the recording' }));
    expect(await screen.findByTestId('recording-status')).toHaveTextContent("deleted at the end of the workspace's retention period");
    expect(fetch.mock.calls.some(([, init]) => init?.method === 'DELETE')).toBe(true);
  });

  it('shows nothing for a call that was not recorded', async () => {
    const fetch = serve(recording({ status: 'not_recorded', url: null }));
    const { container } = renderWithApp(<RecordingPlayer callId="call1" segments={LINES} />);
    await waitFor(() => expect(fetch).toHaveBeenCalled());
    expect(container).toBeEmptyDOMElement();
  });
});
