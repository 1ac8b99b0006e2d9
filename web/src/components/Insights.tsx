import { BookOpen, ExternalLink, GraduationCap, MessageCircleQuestion, Search, Sparkles } from 'lucide-react';
import type { ReactNode } from 'react';
import type { FeedbackStatus } from '../api/types';
import { groupByAgent, isUrl } from '../realtime/insights';
import { FeedbackButtons } from './FeedbackButtons';
import { Badge } from './ui';

export interface InsightView {
  id: string;
  content: string;
  category: string;
  agent: string;
  contextSnippet?: string | null;
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
    <p className="flex items-center gap-1 text-xs text-slate-500">
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

export function InsightCard({ insight, onFeedback }: { insight: InsightView; onFeedback: (id: string, status: FeedbackStatus) => void }) {
  return (
    <article className="rounded-md border border-slate-200 bg-white p-3 shadow-xs" data-testid="insight" data-insight-id={insight.id} aria-label={`${insight.category}: ${insight.content}`}>
      <div className="mb-1 flex items-center justify-between gap-2">
        <div className="flex flex-wrap items-center gap-1">
          <Badge tone="indigo">{insight.category}</Badge>
          {insight.entity && <Badge tone="sky">{insight.entity}</Badge>}
        </div>
        <FeedbackButtons status={insight.feedback} label={insight.category} onChange={(s) => onFeedback(insight.id, s)} />
      </div>
      <p className="text-sm leading-6 text-slate-800">{insight.content}</p>
      {insight.contextSnippet && (
        <blockquote className="mt-1 border-l-2 border-slate-200 pl-2 text-xs italic text-slate-500">“{insight.contextSnippet}”</blockquote>
      )}
      <div className="mt-1">
        <SourceLine source={insight.source} />
      </div>
    </article>
  );
}

/** Insights grouped by agent (coach, search, Q&A), newest first within each group. */
export function InsightPanel({
  insights,
  onFeedback,
  emptyText = 'Tips appear here as the conversation goes.',
}: {
  insights: readonly InsightView[];
  onFeedback: (id: string, status: FeedbackStatus) => void;
  emptyText?: string;
}) {
  const groups = groupByAgent(insights);
  if (groups.length === 0) return <p className="py-6 text-center text-sm text-slate-500">{emptyText}</p>;
  return (
    <div className="flex flex-col gap-4">
      {groups.map((g) => (
        <section key={g.agent} aria-label={`${g.label} insights`} data-agent={g.agent}>
          <h3 className="mb-2 flex items-center gap-1.5 text-xs font-semibold uppercase tracking-wide text-slate-500">
            {agentIcon(g.agent)} {g.label}
            <span className="font-normal text-slate-400">({g.items.length})</span>
          </h3>
          <div className="flex flex-col gap-2">
            {g.items.map((i) => (
              <InsightCard key={i.id} insight={i} onFeedback={onFeedback} />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}
