/**
 * The app's one query cache (@tanstack/react-query) and the keys of what it holds, so a page that
 * changes something can refresh every view of it (a new document also changes the vocabulary).
 */
import { QueryClient } from '@tanstack/react-query';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      // every page has a Retry button; a silent retry would only delay the error by seconds
      queries: { retry: false, refetchOnWindowFocus: false, staleTime: 10_000 },
      mutations: { retry: false },
    },
  });
}

export const keys = {
  stats: ['stats'] as const,
  calls: (q: string) => ['calls', q] as const,
  recentCalls: ['calls', 'recent'] as const,
  call: (id: string) => ['call', id] as const,
  agentRuns: (id: string) => ['call', id, 'agent-runs'] as const,
  knowledge: ['knowledge'] as const,
  vocabulary: ['vocabulary'] as const,
};

