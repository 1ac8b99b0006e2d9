import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../api/types';
import { applyTranscript, clock, speakerLabel } from './transcript';

const ev = (p: Partial<TranscriptEvent> & { id: string }): TranscriptEvent => ({ text: '', is_final: false, speaker: 'customer', start: 0, end: 0, ...p });

describe('applyTranscript', () => {
  it('replaces interims in place and settles into the final with the same id', () => {
    let lines = applyTranscript([], ev({ id: 'a', text: 'our price', start: 1, end: 2 }));
    lines = applyTranscript(lines, ev({ id: 'b', text: 'hello', speaker: 'rep', start: 3, end: 4, is_final: true }));
    lines = applyTranscript(lines, ev({ id: 'a', text: 'your price seems', start: 1, end: 2.5 }));
    lines = applyTranscript(lines, ev({ id: 'a', text: 'Your price seems high.', start: 1, end: 3, is_final: true }));
    expect(lines.map((l) => [l.id, l.text, l.is_final])).toEqual([
      ['a', 'Your price seems high.', true],
      ['b', 'hello', true],
    ]);
  });

  it('never turns a final back into an interim', () => {
    let lines = applyTranscript([], ev({ id: 'a', text: 'Done.', is_final: true }));
    lines = applyTranscript(lines, ev({ id: 'a', text: 'Do', is_final: false }));
    expect(lines[0]?.text).toBe('Done.');
  });

  it('drops the interims of an utterance whose final is empty', () => {
    let lines = applyTranscript([], ev({ id: 'a', text: 'uh', start: 1, end: 2 }));
    lines = applyTranscript(lines, ev({ id: 'b', text: 'Hello.', start: 3, end: 4, is_final: true }));
    lines = applyTranscript(lines, ev({ id: 'a', text: '', start: 1, end: 2, is_final: true }));
    expect(lines.map((l) => l.id)).toEqual(['b']);
    expect(applyTranscript(lines, ev({ id: 'z', text: ' ', is_final: true }))).toEqual(lines);
  });

  it('inserts a late line by start time', () => {
    let lines = applyTranscript([], ev({ id: 'x', start: 5, text: 'later', is_final: true }));
    lines = applyTranscript(lines, ev({ id: 'y', start: 2, text: 'earlier', is_final: true }));
    expect(lines.map((l) => l.id)).toEqual(['y', 'x']);
  });

  it('labels speakers', () => {
    expect(speakerLabel('rep')).toBe('You');
    expect(speakerLabel('customer')).toBe('Customer');
    expect(speakerLabel('0')).toBe('Speaker 1');
    expect(speakerLabel('speaker_2')).toBe('Speaker 3');
    expect(speakerLabel(null)).toBe('Speaker');
    expect(clock(75)).toBe('1:15');
    expect(clock(3725)).toBe('1:02:05');
  });
});
