import { X } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';
import type { FeedbackStatus } from '../api/types';
import { agentLabel, type LiveInsight } from '../realtime/insights';
import { FeedbackButtons } from './FeedbackButtons';
import { agentIcon } from './Insights';

const SHOW_MS = 7000;
/** at most this many at once: two on a wide screen, one on a phone, so they never fill it */
const MAX_TOASTS = 2;
const NARROW = '(max-width: 639px)';

function maxToasts(): number {
  return typeof window !== 'undefined' && window.matchMedia?.(NARROW).matches ? 1 : MAX_TOASTS;
}

/**
 * Pops each new insight up in the bottom-right corner for a few seconds, only while `active`:
 * a call is live and its Insights panel is out of view (when the panel shows, a toast would
 * only repeat, or cover, its newest card). Tips that came while the panel showed never pop up.
 */
export function InsightToasts({ insights, onFeedback, active = true }: { insights: readonly LiveInsight[]; onFeedback: (id: string, s: FeedbackStatus) => void; active?: boolean }) {
  const seen = useRef(new Set<string>());
  const [visible, setVisible] = useState<string[]>([]);

  useEffect(() => {
    const fresh = insights.filter((i) => !seen.current.has(i.id)).map((i) => i.id);
    if (insights.length === 0) seen.current.clear();
    if (fresh.length === 0) return;
    fresh.forEach((id) => seen.current.add(id));
    if (!active) return;
    setVisible((v) => [...v, ...fresh].slice(-maxToasts()));
    const timers = fresh.map((id) => setTimeout(() => setVisible((v) => v.filter((x) => x !== id)), SHOW_MS));
    return () => timers.forEach(clearTimeout);
    // `active` is read when tips arrive; a change of it alone pops nothing up
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [insights]);

  useEffect(() => {
    if (!active) setVisible([]);
  }, [active]);

  const shown = visible.map((id) => insights.find((i) => i.id === id)).filter((i): i is LiveInsight => !!i);
  return (
    <div role="region" aria-live="polite" aria-label="New insights" className="pointer-events-none fixed bottom-3 right-3 z-40 flex w-[26rem] max-w-[calc(100vw-1.5rem)] flex-col gap-2">
      {shown.map((i) => (
        <div key={i.id} role="status" className="pointer-events-auto flex items-start gap-3 rounded-lg border border-indigo-200 bg-white/95 px-3 py-2 shadow-lg backdrop-blur" data-testid="insight-toast">
          <div className="min-w-0 flex-1">
            <div className="flex items-center gap-1 text-xs font-semibold text-indigo-700">
              {agentIcon(i.agent)} {agentLabel(i.agent)} · {i.category}
            </div>
            <p className="line-clamp-3 text-sm leading-5 text-slate-800">{i.content}</p>
          </div>
          <div className="flex shrink-0 items-center gap-1 self-center">
            <FeedbackButtons status={i.feedback} label={i.category} onChange={(s) => onFeedback(i.id, s)} />
            <button
              type="button"
              aria-label="Dismiss"
              className="rounded p-1 text-slate-500 hover:text-slate-700"
              onClick={() => setVisible((v) => v.filter((x) => x !== i.id))}
            >
              <X className="h-3.5 w-3.5" aria-hidden="true" />
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}
