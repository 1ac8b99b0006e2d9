import { ThumbsDown, ThumbsUp } from 'lucide-react';
import type { FeedbackStatus } from '../api/types';

/** Like / dislike toggle pair; pressing the active one again clears it (status "none"). */
export function FeedbackButtons({
  status,
  onChange,
  label,
  disabled = false,
  shortcuts = false,
}: {
  status: FeedbackStatus;
  onChange: (status: FeedbackStatus) => void;
  /** what is being rated, for screen readers */
  label: string;
  disabled?: boolean;
  /** these buttons answer the L / D keys (the newest live tip): say so */
  shortcuts?: boolean;
}) {
  const base =
    'inline-flex h-7 w-7 items-center justify-center rounded-md border transition-colors focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 disabled:opacity-50';
  return (
    <div className="flex items-center gap-1" role="group" aria-label={`Feedback on ${label}`}>
      <button
        type="button"
        disabled={disabled}
        aria-pressed={status === 'liked'}
        aria-label="Helpful"
        aria-keyshortcuts={shortcuts ? 'L' : undefined}
        title={shortcuts ? 'Helpful (L)' : 'Helpful'}
        onClick={() => onChange(status === 'liked' ? 'none' : 'liked')}
        className={`${base} ${status === 'liked' ? 'border-emerald-300 bg-emerald-50 text-emerald-700' : 'border-slate-200 bg-white text-slate-500 hover:text-emerald-700'}`}
      >
        <ThumbsUp className="h-3.5 w-3.5" aria-hidden="true" />
      </button>
      <button
        type="button"
        disabled={disabled}
        aria-pressed={status === 'disliked'}
        aria-label="Not helpful"
        aria-keyshortcuts={shortcuts ? 'D' : undefined}
        title={shortcuts ? 'Not helpful (D)' : 'Not helpful'}
        onClick={() => onChange(status === 'disliked' ? 'none' : 'disliked')}
        className={`${base} ${status === 'disliked' ? 'border-rose-300 bg-rose-50 text-rose-700' : 'border-slate-200 bg-white text-slate-500 hover:text-rose-700'}`}
      >
        <ThumbsDown className="h-3.5 w-3.5" aria-hidden="true" />
      </button>
    </div>
  );
}
