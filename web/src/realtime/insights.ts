/** Live insights: the feedback each carries and how the sidebar groups them by agent. */
import type { AgentName, FeedbackStatus, InsightEvent } from '../api/types';

export interface LiveInsight extends InsightEvent {
  feedback: FeedbackStatus;
}

export interface AgentGroup<T> {
  agent: string;
  label: string;
  items: T[];
}

export const AGENT_ORDER: readonly AgentName[] = ['coach', 'search', 'qa', 'system'];

export const AGENT_LABELS: Record<string, string> = {
  coach: 'Sales coach',
  search: 'Search',
  qa: 'Q&A',
  system: 'System',
};

export function agentLabel(agent: string): string {
  return AGENT_LABELS[agent] ?? agent.charAt(0).toUpperCase() + agent.slice(1);
}

/**
 * Groups items by agent in a fixed order (coach, search, qa, system, then any other agent),
 * newest first inside each group; empty groups are left out.
 */
export function groupByAgent<T extends { agent: string }>(items: readonly T[]): AgentGroup<T>[] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.agent) ?? [];
    list.push(item);
    groups.set(item.agent, list);
  }
  const order = [...AGENT_ORDER, ...[...groups.keys()].filter((a) => !AGENT_ORDER.includes(a as AgentName)).sort()];
  return order
    .filter((agent) => groups.has(agent))
    .map((agent) => ({ agent, label: agentLabel(agent), items: (groups.get(agent) ?? []).slice().reverse() }));
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
