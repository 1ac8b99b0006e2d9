/** Live transcript state: interims are replaced in place by later interims and by their final. */
import type { TranscriptEvent } from '../api/types';

export type TranscriptLine = TranscriptEvent;

/**
 * Applies one `transcript` event. A line with a known id is replaced where it stands (interims
 * share the final's id); a new id is inserted in start-time order, so a late final from the other
 * channel lands where it was spoken. A final never goes back to interim. An empty final takes
 * back the interims of an utterance that turned out not to be speech.
 */
export function applyTranscript(lines: readonly TranscriptLine[], event: TranscriptEvent): TranscriptLine[] {
  const idx = lines.findIndex((l) => l.id === event.id);
  if (event.is_final && !event.text.trim()) {
    return idx >= 0 ? lines.filter((l) => l.id !== event.id) : (lines as TranscriptLine[]);
  }
  if (idx >= 0) {
    const prev = lines[idx] as TranscriptLine;
    if (prev.is_final && !event.is_final) return lines as TranscriptLine[];
    const next = lines.slice();
    next[idx] = { ...event };
    return next;
  }
  if (!event.text.trim() && !event.is_final) return lines as TranscriptLine[];
  let at = lines.length;
  while (at > 0 && (lines[at - 1] as TranscriptLine).start > event.start) at--;
  const next = lines.slice();
  next.splice(at, 0, { ...event });
  return next;
}

/** A readable label for the speaker field: "rep"/"customer" on stereo calls, else ids. */
export function speakerLabel(speaker: string | null | undefined): string {
  if (speaker === null || speaker === undefined || speaker === '') return 'Speaker';
  const s = speaker.toLowerCase();
  if (s === 'rep') return 'You';
  if (s === 'customer') return 'Customer';
  const n = /^(?:speaker[_ -]?)?(\d+)$/.exec(s);
  if (n) return `Speaker ${Number(n[1]) + 1}`;
  return speaker.charAt(0).toUpperCase() + speaker.slice(1);
}

/** Tailwind classes per speaker, so the two sides of the call read apart at a glance. */
export function speakerTone(speaker: string | null | undefined): string {
  const s = (speaker ?? '').toLowerCase();
  if (s === 'rep') return 'text-indigo-700';
  if (s === 'customer') return 'text-emerald-700';
  return 'text-slate-600';
}

/** mm:ss for seconds of call audio. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
