import { useEffect, useRef } from 'react';
import { clock, speakerLabel, speakerTone, type TranscriptLine } from '../realtime/transcript';

export interface TranscriptProps {
  lines: readonly (Pick<TranscriptLine, 'id' | 'text' | 'speaker' | 'start' | 'end'> & { is_final?: boolean })[];
  /** keep the newest line in view while the user is at the bottom */
  follow?: boolean;
  /** id of a line to mark (e.g. the target of a key moment) */
  highlightId?: string | null;
  emptyText?: string;
  label?: string;
}

/** The transcript, one utterance per row with its speaker and time; interims shown muted. */
export function Transcript({ lines, follow = false, highlightId = null, emptyText = 'Nothing said yet.', label = 'Transcript' }: TranscriptProps) {
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (follow && el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [lines, follow]);

  if (lines.length === 0) {
    return <p className="px-1 py-6 text-center text-sm text-slate-500">{emptyText}</p>;
  }
  return (
    // the log wraps the list: role="log" on the <ol> itself would take its list semantics away
    <div
      ref={box}
      role="log"
      aria-label={label}
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
      className="h-full overflow-y-auto pr-1"
    >
      <ol className="flex flex-col gap-2">
      {lines.map((line) => {
        const interim = line.is_final === false;
        return (
          <li
            key={line.id}
            id={`seg-${line.id}`}
            data-final={interim ? 'false' : 'true'}
            tabIndex={-1}
            className={`grid grid-cols-[4.5rem_1fr] gap-2 rounded-md px-2 py-1 ${highlightId === line.id ? 'wm-flash ring-2 ring-amber-300' : ''}`}
          >
            <div className="text-xs leading-5">
              <div className={`font-semibold ${speakerTone(line.speaker)}`} data-testid="speaker">
                {speakerLabel(line.speaker)}
              </div>
              <div className="tabular-nums text-slate-500">{clock(line.start)}</div>
            </div>
            <p className={`text-sm leading-6 ${interim ? 'italic text-slate-500' : 'text-slate-800'}`}>
              {line.text}
              {interim && <span className="sr-only"> (still listening)</span>}
            </p>
          </li>
        );
      })}
      </ol>
    </div>
  );
}
