/** Live insights: the feedback each carries, their order, and the agents' labels. */
import type { FeedbackStatus, InsightEvent } from '../api/types';

/** A tip on the live page; one saved before a resume (REST) names no provider. */
export interface LiveInsight extends Omit<InsightEvent, 'provider'> {
  provider?: string;
  feedback: FeedbackStatus;
}

export const AGENT_LABELS: Record<string, string> = {
  coach: 'Sales coach',
  search: 'Search',
  qa: 'Q&A',
  system: 'System',
};

export function agentLabel(agent: string): string {
  return AGENT_LABELS[agent] ?? agent.charAt(0).toUpperCase() + agent.slice(1);
}

/** Newest first: the order the Insights panel shows (lists are kept oldest first, as they came). */
export function newestFirst<T>(items: readonly T[]): T[] {
  return items.slice().reverse();
}

/** Adds an insight, or updates it in place if the server sends the same id again. */
export function upsertInsight(list: readonly LiveInsight[], event: InsightEvent): LiveInsight[] {
  const idx = list.findIndex((i) => i.id === event.id);
  if (idx >= 0) {
    const next = list.slice();
    next[idx] = { ...event, feedback: (list[idx] as LiveInsight).feedback };
    return next;
  }
  return [...list, { ...event, feedback: 'none' }];
}

/** Whether a source is a link we can open, or a document name to show as text. */
export function isUrl(source: string | null | undefined): boolean {
  return !!source && /^https?:\/\//i.test(source);
}

/** Insights saved before this page took the call over (a reload, another tab) go before the
 * ones that came live; one already known keeps the live copy. */
export function mergeInsights(list: readonly LiveInsight[], saved: readonly LiveInsight[]): LiveInsight[] {
  const known = new Set(list.map((i) => i.id));
  return [...saved.filter((i) => !known.has(i.id)), ...list];
}
