import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../api/types';
import { applyTranscript, type TranscriptLine } from '../realtime/transcript';
import { Transcript } from './Transcript';

function play(events: TranscriptEvent[]): TranscriptLine[] {
  return events.reduce<TranscriptLine[]>((lines, e) => applyTranscript(lines, e), []);
}

describe('<Transcript>', () => {
  it('shows an interim muted, then the final in the same row', () => {
    const interim = play([{ id: 'u1', text: 'your price seems', is_final: false, speaker: 'customer', start: 12, end: 13 }]);
    const { rerender } = render(<Transcript lines={interim} />);
    const log = screen.getByRole('log');
    expect(within(log).getAllByRole('listitem')).toHaveLength(1);
    const row = within(log).getByText(/your price seems/);
    expect(row).toHaveClass('italic');
    expect(row.closest('li')).toHaveAttribute('data-final', 'false');
    expect(screen.getByText('(still listening)', { exact: false })).toBeInTheDocument();

    const final = applyTranscript(interim, { id: 'u1', text: "Honestly, your price seems high.", is_final: true, speaker: 'customer', start: 12, end: 14 });
    rerender(<Transcript lines={final} />);
    const items = within(screen.getByRole('log')).getAllByRole('listitem');
    expect(items).toHaveLength(1);
    expect(items[0]).toHaveAttribute('data-final', 'true');
    expect(items[0]).toHaveAttribute('id', 'seg-u1');
    expect(screen.queryByText(/your price seems$/)).not.toBeInTheDocument();
    expect(screen.getByText('Honestly, your price seems high.')).not.toHaveClass('italic');
  });

  it('labels each line with its speaker and time', () => {
    const lines = play([
      { id: 'a', text: "Hi Dana, I'm Sam from Relay.", is_final: true, speaker: 'rep', start: 0.4, end: 3 },
      { id: 'b', text: 'Thanks Sam.', is_final: true, speaker: 'customer', start: 3.5, end: 4.5 },
      { id: 'c', text: 'Hello?', is_final: true, speaker: '1', start: 65, end: 66 },
    ]);
    render(<Transcript lines={lines} />);
    expect(screen.getAllByTestId('speaker').map((s) => s.textContent)).toEqual(['You', 'Customer', 'Speaker 2']);
    expect(screen.getByText('1:05')).toBeInTheDocument();
  });

  it('says so when empty', () => {
    render(<Transcript lines={[]} emptyText="Start a call to see the transcript here." />);
    expect(screen.getByText('Start a call to see the transcript here.')).toBeInTheDocument();
  });
});
