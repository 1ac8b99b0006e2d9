import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeSocket } from '../test/fakeSocket';
import { LiveSession } from '../realtime/session';
import { SentimentLine } from './SentimentLine';

describe('live sentiment', () => {
  it('keeps one point per segment in call order, and draws them', async () => {
    const socket = new FakeSocket();
    const session = new LiveSession(socket, { now: () => 1000, endTimeoutMs: 50 });
    socket.serverConnect();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 2 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    socket.fire('sentiment', { id: 'b', score: -0.6, label: 'negative', start: 9, end: 11 });
    socket.fire('sentiment', { id: 'a', score: 0.5, label: 'positive', start: 2, end: 4 });
    socket.fire('sentiment', { id: 'b', score: -0.6, label: 'negative', start: 9, end: 11 }); // resent after a resume
    const points = session.getState().sentiment;
    expect(points.map((p) => p.id)).toEqual(['a', 'b']);
    render(<SentimentLine points={points} />);
    expect(screen.getByRole('img', { name: 'Customer sentiment: now negative' })).toBeInTheDocument();
    expect(screen.getByTestId('live-sentiment')).toHaveAttribute('data-points', '2');
  });

  it('says what it waits for before the customer speaks', () => {
    render(<SentimentLine points={[]} />);
    expect(screen.getByTestId('live-sentiment')).toHaveAttribute('data-points', '0');
  });
});
