import { X } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';
import type { FeedbackStatus } from '../api/types';
import { agentLabel, type LiveInsight } from '../realtime/insights';
import { FeedbackButtons } from './FeedbackButtons';
import { agentIcon } from './Insights';

const SHOW_MS = 7000;
const MAX_TOASTS = 2;

/** Pops each new insight up in the bottom-right corner for a few seconds while a call is live (the sidebar keeps them all). */
export function InsightToasts({ insights, onFeedback, active = true }: { insights: readonly LiveInsight[]; onFeedback: (id: string, s: FeedbackStatus) => void; active?: boolean }) {
  const seen = useRef(new Set<string>());
  const [visible, setVisible] = useState<string[]>([]);

  useEffect(() => {
    const fresh = insights.filter((i) => !seen.current.has(i.id)).map((i) => i.id);
    if (insights.length === 0) seen.current.clear();
    if (fresh.length === 0) return;
    fresh.forEach((id) => seen.current.add(id));
    setVisible((v) => [...v, ...fresh].slice(-MAX_TOASTS));
    const timers = fresh.map((id) => setTimeout(() => setVisible((v) => v.filter((x) => x !== id)), SHOW_MS));
    return () => timers.forEach(clearTimeout);
  }, [insights]);

  useEffect(() => {
    if (!active) setVisible([]);
  }, [active]);

  const shown = visible.map((id) => insights.find((i) => i.id === id)).filter((i): i is LiveInsight => !!i);
  return (
    <div aria-live="polite" aria-label="New insights" className="pointer-events-none fixed bottom-4 right-4 z-40 flex w-[26rem] max-w-[calc(100vw-2rem)] flex-col gap-2">
      {shown.map((i) => (
        <div key={i.id} role="status" className="pointer-events-auto flex items-start gap-3 rounded-lg border border-indigo-200 bg-white/95 px-3 py-2 shadow-lg backdrop-blur" data-testid="insight-toast">
          <div className="min-w-0 flex-1">
            <div className="flex items-center gap-1 text-xs font-semibold text-indigo-700">
              {agentIcon(i.agent)} {agentLabel(i.agent)} · {i.category}
            </div>
            <p className="text-sm leading-5 text-slate-800">{i.content}</p>
          </div>
          <div className="flex shrink-0 items-center gap-1 self-center">
            <FeedbackButtons status={i.feedback} label={i.category} onChange={(s) => onFeedback(i.id, s)} />
            <button
              type="button"
              aria-label="Dismiss"
              className="rounded p-1 text-slate-400 hover:text-slate-700"
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
