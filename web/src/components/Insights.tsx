import { BookOpen, ExternalLink, GraduationCap, MessageCircleQuestion, Search, Sparkles } from 'lucide-react';
import type { ReactNode } from 'react';
import type { FeedbackStatus } from '../api/types';
import { agentLabel, isUrl, newestFirst } from '../realtime/insights';
import { FeedbackButtons } from './FeedbackButtons';
import { Badge } from './ui';

export interface InsightView {
  id: string;
  content: string;
  category: string;
  agent: string;
  context_snippet?: string | null;
  source?: string | null;
  entity?: string | null;
  feedback: FeedbackStatus;
}

const AGENT_ICONS: Record<string, ReactNode> = {
  coach: <GraduationCap className="h-4 w-4" aria-hidden="true" />,
  search: <Search className="h-4 w-4" aria-hidden="true" />,
  qa: <MessageCircleQuestion className="h-4 w-4" aria-hidden="true" />,
};

export function agentIcon(agent: string): ReactNode {
  return AGENT_ICONS[agent] ?? <Sparkles className="h-4 w-4" aria-hidden="true" />;
}

export function SourceLine({ source }: { source: string | null | undefined }) {
  if (!source) return null;
  return (
    <p className="flex min-w-0 items-center gap-1 text-xs text-slate-600">
      {isUrl(source) ? (
        <>
          <ExternalLink className="h-3 w-3" aria-hidden="true" />
          <a href={source} target="_blank" rel="noreferrer" className="truncate underline hover:text-slate-700">
            {source}
          </a>
        </>
      ) : (
        <>
          <BookOpen className="h-3 w-3" aria-hidden="true" />
          <span className="truncate">Source: {source}</span>
        </>
      )}
    </p>
  );
}

export function InsightCard({
  insight,
  onFeedback,
  newest = false,
}: {
  insight: InsightView;
  onFeedback: (id: string, status: FeedbackStatus) => void;
  /** the newest tip of a live call: highlighted, and what the L / D shortcuts rate */
  newest?: boolean;
}) {
  return (
    <article
      className={`rounded-md border p-3 shadow-xs ${newest ? 'border-indigo-300 bg-indigo-50/60 ring-2 ring-indigo-200' : 'border-slate-200 bg-white'}`}
      data-testid="insight"
      data-insight-id={insight.id}
      data-newest={newest ? 'true' : undefined}
      aria-label={`${newest ? 'Newest tip, ' : ''}${agentLabel(insight.agent)}, ${insight.category}: ${insight.content}`}
    >
      <div className="mb-1 flex flex-wrap items-center justify-between gap-2">
        <div className="flex min-w-0 flex-wrap items-center gap-1">
          {newest && <span className="rounded bg-indigo-600 px-1.5 py-0.5 text-xs font-semibold text-white">Newest</span>}
          <span className="inline-flex items-center gap-1 text-xs font-medium text-slate-600" data-testid="insight-agent">
            {agentIcon(insight.agent)} {agentLabel(insight.agent)}
          </span>
          <Badge tone="indigo">{insight.category}</Badge>
          {insight.entity && <Badge tone="sky">{insight.entity}</Badge>}
        </div>
        <FeedbackButtons status={insight.feedback} label={insight.category} onChange={(s) => onFeedback(insight.id, s)} shortcuts={newest} />
      </div>
      <p className="text-sm leading-6 break-words text-slate-800">{insight.content}</p>
      {insight.context_snippet && (
        <blockquote className="mt-1 border-l-2 border-slate-200 pl-2 text-xs italic text-slate-600">“{insight.context_snippet}”</blockquote>
      )}
      <div className="mt-1">
        <SourceLine source={insight.source} />
      </div>
    </article>
  );
}

/** Insights in time order, newest on top (highlighted when `highlightNewest`), the agent as a label. */
export function InsightPanel({
  insights,
  onFeedback,
  emptyText = 'Tips appear here as the conversation goes.',
  highlightNewest = false,
}: {
  insights: readonly InsightView[];
  onFeedback: (id: string, status: FeedbackStatus) => void;
  emptyText?: string;
  highlightNewest?: boolean;
}) {
  if (insights.length === 0) return <p className="py-6 text-center text-sm text-slate-500">{emptyText}</p>;
  return (
    <ol className="flex flex-col gap-2" aria-label="Insights, newest first">
      {newestFirst(insights).map((i, index) => (
        <li key={i.id}>
          <InsightCard insight={i} onFeedback={onFeedback} newest={highlightNewest && index === 0} />
        </li>
      ))}
    </ol>
  );
}
