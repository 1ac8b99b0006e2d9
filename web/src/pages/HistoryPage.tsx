import { History, Search } from 'lucide-react';
import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { CallListItem } from '../api/types';
import { Button, EmptyState, ErrorState, PageHeader, Spinner } from '../components/ui';
import { formatDateTime, formatDuration } from '../lib/format';
import { Link, navigate, useLocation } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const PAGE = 20;

export function HistoryPage() {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const [text, setText] = useState(q);
  const [extra, setExtra] = useState<CallListItem[]>([]);
  const [moreError, setMoreError] = useState<Error | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  // debounce typing into the URL, which drives the query
  useEffect(() => {
    if (text === q) return;
    const t = setTimeout(() => navigate(text ? `/calls?q=${encodeURIComponent(text)}` : '/calls', { replace: true }), 300);
    return () => clearTimeout(t);
  }, [text, q]);

  const calls = useAsync(
    (signal) => {
      setExtra([]);
      setMoreError(null);
      return api.listCalls({ q: q || undefined, limit: PAGE, offset: 0 }, signal);
    },
    [q],
  );
  const items = [...(calls.data?.items ?? []), ...extra];
  const total = calls.data?.total ?? 0;

  const loadMore = async () => {
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await api.listCalls({ q: q || undefined, limit: PAGE, offset: items.length });
      setExtra((x) => [...x, ...page.items]);
    } catch (e) {
      setMoreError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <>
      <PageHeader title="Call history" subtitle="Every call, searchable by what was said and its summary." />
      <form
        role="search"
        className="relative mb-6 max-w-xl"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(text ? `/calls?q=${encodeURIComponent(text)}` : '/calls', { replace: true });
        }}
      >
        <Search className="pointer-events-none absolute left-3 top-1/2 h-4 w-4 -translate-y-1/2 text-slate-400" aria-hidden="true" />
        <input
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Search transcripts and summaries (e.g. pricing, Aircall)"
          aria-label="Search calls"
          className="block w-full rounded-md border border-slate-300 bg-white py-2 pl-9 pr-3 text-sm shadow-xs focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500"
        />
      </form>

      {calls.error ? (
        <ErrorState error={calls.error} onRetry={calls.reload} />
      ) : calls.loading && !calls.data ? (
        <Spinner label="Loading calls" />
      ) : items.length === 0 ? (
        q ? (
          <EmptyState icon={<Search className="h-6 w-6" />} title={`No calls match “${q}”`}>
            Try another word from the conversation.
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
          </p>
          <ul className="divide-y divide-slate-100 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" data-testid="call-list">
            {items.map((c) => (
              <li key={c.id}>
                <Link to={`/calls/${c.id}`} className="flex items-start justify-between gap-6 px-4 py-3 hover:bg-slate-50">
                  <span className="min-w-0">
                    <span className="block font-medium text-slate-900">{c.title || 'Untitled call'}</span>
                    <span className="mt-0.5 line-clamp-2 block text-sm text-slate-600">{c.summary || (c.end_time ? 'No summary.' : 'In progress or not finished.')}</span>
                  </span>
                  <span className="shrink-0 text-right text-xs text-slate-500">
                    <span className="block">{formatDateTime(c.start_time)}</span>
                    <span className="block">{formatDuration(c.duration_seconds)}</span>
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          {moreError && <div className="mt-3"><ErrorState error={moreError} onRetry={() => void loadMore()} /></div>}
          {items.length < total && (
            <div className="mt-4 flex justify-center">
              <Button onClick={() => void loadMore()} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </Button>
            </div>
          )}
        </>
      )}
    </>
  );
}
