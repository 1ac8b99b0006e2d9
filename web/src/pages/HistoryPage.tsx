import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { History, Search } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../api/client';
import type { SnippetPart } from '../api/types';
import { apiFilters, CallFilters, FILTER_KEYS, hasFilters, readFilters, type CallFilterValues } from '../components/CallFilters';
import { Button, EmptyState, ErrorState, PageHeader, Spinner } from '../components/ui';
import { useUser } from '../lib/auth';
import { formatDateTime, formatDuration } from '../lib/format';
import { keys } from '../lib/query';

const PAGE = 20;

/** The words of the call that matched the search, the matches marked. */
export function Snippet({ parts }: { parts: readonly SnippetPart[] }) {
  return (
    <span className="mt-0.5 line-clamp-3 block text-sm text-slate-600" data-testid="search-snippet">
      {parts.map((p, i) =>
        p.match ? (
          <mark key={i} className="rounded-sm bg-amber-100 px-0.5 font-medium text-slate-900">
            {p.text}
          </mark>
        ) : (
          <span key={i}>{p.text}</span>
        ),
      )}
    </span>
  );
}

export function HistoryPage() {
  const user = useUser();
  const canPickRep = user?.role === 'admin' || user?.role === 'manager';
  const [search, setSearch] = useSearchParams();
  const q = search.get('q') ?? '';
  const filters = readFilters(search);
  const filtered = hasFilters(filters);
  const [text, setText] = useState(q);

  // the URL holds the whole view (search words and filters): a link shows the same calls
  const update = useCallback(
    (next: { q?: string; filters?: CallFilterValues }) =>
      setSearch(
        (prev) => {
          const out = new URLSearchParams(prev);
          if (next.q !== undefined) {
            if (next.q) out.set('q', next.q);
            else out.delete('q');
          }
          if (next.filters) {
            for (const k of FILTER_KEYS) {
              if (next.filters[k]) out.set(k, next.filters[k]);
              else out.delete(k);
            }
          }
          return out;
        },
        { replace: true },
      ),
    [setSearch],
  );

  // debounce typing into the URL, which drives the query
  useEffect(() => {
    if (text === q) return;
    const t = setTimeout(() => update({ q: text }), 300);
    return () => clearTimeout(t);
  }, [text, q, update]);

  const params = apiFilters(filters);
  const calls = useInfiniteQuery({
    queryKey: [...keys.calls(q), params],
    queryFn: ({ signal, pageParam }) => api.listCalls({ q: q || undefined, ...params, limit: PAGE, offset: pageParam }, signal),
    initialPageParam: 0,
    getNextPageParam: (last, pages) => {
      const loaded = pages.reduce((n, p) => n + p.items.length, 0);
      return loaded < last.total && last.items.length > 0 ? loaded : undefined;
    },
  });
  const items = calls.data?.pages.flatMap((p) => p.items) ?? [];
  const total = calls.data?.pages[0]?.total ?? 0;
  // managers see whose call each one is
  const team = useQuery({ queryKey: ['team'], queryFn: ({ signal }) => api.team(signal), enabled: canPickRep });
  const repName = (id: string | undefined) => (canPickRep && id ? team.data?.reps.find((r) => r.member.id === id)?.member.name : undefined);

  return (
    <>
      <PageHeader title="Call history" subtitle="Every call, searchable by what was said and its summary, filtered by rep, date, competitor or objection." />
      <form
        role="search"
        className="relative mb-6 max-w-xl"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: text });
        }}
      >
        <Search className="pointer-events-none absolute left-3 top-1/2 h-4 w-4 -translate-y-1/2 text-slate-500" aria-hidden="true" />
        <input
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Search transcripts and summaries (e.g. pricing, Aircall)"
          aria-label="Search calls"
          className="block w-full rounded-md border border-slate-300 bg-white py-2 pl-9 pr-3 text-sm shadow-xs focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500"
        />
      </form>
      <CallFilters values={filters} canPickRep={canPickRep} onChange={(f) => update({ filters: f })} />

      {calls.error && !calls.data ? (
        <ErrorState error={calls.error} onRetry={() => void calls.refetch()} />
      ) : !calls.data ? (
        <Spinner label="Loading calls" />
      ) : items.length === 0 ? (
        q || filtered ? (
          <EmptyState icon={<Search className="h-6 w-6" />} title={q ? `No calls match “${q}”${filtered ? ' with these filters' : ''}` : 'No calls match these filters'}>
            {q ? 'Try another word from the conversation' : 'Try a wider date range or another filter'}
            {filtered && (
              <>
                {' '}or{' '}
                <button type="button" className="text-indigo-700 underline" onClick={() => update({ filters: { rep: '', from: '', to: '', competitor: '', objection: '' } })}>
                  clear the filters
                </button>
              </>
            )}
            .
          </EmptyState>
        ) : (
          <EmptyState icon={<History className="h-6 w-6" />} title="No calls yet">
            Your calls appear here once they end. <Link to="/live" className="text-indigo-600 underline">Start a call</Link>.
          </EmptyState>
        )
      ) : (
        <>
          <p className="mb-2 text-sm text-slate-500" aria-live="polite">
            {total} call{total === 1 ? '' : 's'}
            {q ? ` matching “${q}”` : ''}
            {filtered ? ' with these filters' : ''}
          </p>
          <ul className="divide-y divide-slate-100 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" data-testid="call-list">
            {items.map((c) => (
              <li key={c.id}>
                <Link to={`/calls/${c.id}`} className="flex flex-col gap-1 px-4 py-3 hover:bg-slate-50 sm:flex-row sm:items-start sm:justify-between sm:gap-6">
                  <span className="min-w-0 flex-1">
                    <span className="block font-medium break-words text-slate-900">{c.title || 'Untitled call'}</span>
                    {c.snippet ? (
                      <Snippet parts={c.snippet} />
                    ) : (
                      <span className="mt-0.5 line-clamp-2 block text-sm text-slate-600">{c.summary || (c.end_time ? 'No summary.' : 'In progress or not finished.')}</span>
                    )}
                  </span>
                  <span className="flex shrink-0 gap-2 text-xs text-slate-500 sm:block sm:text-right">
                    {repName(c.user_id) && <span className="block font-medium text-slate-600">{repName(c.user_id)}</span>}
                    <span className="block">{formatDateTime(c.start_time)}</span>
                    <span className="block">{formatDuration(c.duration_seconds)}</span>
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          {calls.isFetchNextPageError && calls.error && (
            <div className="mt-3">
              <ErrorState error={calls.error} onRetry={() => void calls.fetchNextPage()} />
            </div>
          )}
          {calls.hasNextPage && (
            <div className="mt-4 flex justify-center">
              <Button onClick={() => void calls.fetchNextPage()} disabled={calls.isFetchingNextPage}>
                {calls.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </Button>
            </div>
          )}
        </>
      )}
    </>
  );
}
