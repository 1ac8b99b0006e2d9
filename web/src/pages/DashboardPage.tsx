import { CalendarClock, Clock, Lightbulb, Mic, PhoneCall, ThumbsUp } from 'lucide-react';
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client';
import { BarList } from '../components/BarList';
import { Onboarding } from '../components/Onboarding';
import { Button, Card, EmptyState, ErrorState, PageHeader, Spinner } from '../components/ui';
import { formatDateTime, formatDuration, formatPercent, humanizeKind } from '../lib/format';
import { keys } from '../lib/query';

// recharts loads with the trends, not with the first page
const TrendsCharts = lazy(() => import('../after/TrendsCharts'));

function formatMinutes(m: number): string {
  return m < 10 ? String(Math.round(m * 10) / 10) : String(Math.round(m));
}

/** The liked share is over rated tips: say how many, so "100%" of one tip reads as such. */
export function likedHint(liked: number, disliked: number): string {
  const rated = liked + disliked;
  if (rated === 0) return 'no tips rated yet';
  return `of ${rated} rated tip${rated === 1 ? '' : 's'} · ${liked} liked · ${disliked} disliked`;
}

function Stat({ icon, label, value, hint }: { icon: ReactNode; label: string; value: string; hint?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <div className="flex items-center gap-2 text-xs font-medium uppercase tracking-wide text-slate-500">
        {icon}
        {label}
      </div>
      <div className="mt-2 text-2xl font-semibold tabular-nums text-slate-900">{value}</div>
      {hint && <div className="mt-0.5 text-xs text-slate-500">{hint}</div>}
    </div>
  );
}

export function DashboardPage() {
  const navigate = useNavigate();
  const stats = useQuery({ queryKey: keys.stats, queryFn: ({ signal }) => api.stats(signal) });
  const recent = useQuery({ queryKey: keys.recentCalls, queryFn: ({ signal }) => api.listCalls({ limit: 5 }, signal) });
  const s = stats.data;
  const icon = 'h-4 w-4';

  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle="How your calls went this week."
        actions={
          <Button variant="primary" onClick={() => navigate('/live')}>
            <Mic className="h-4 w-4" aria-hidden="true" /> Start a call
          </Button>
        }
      />
      <Onboarding />
      {stats.error ? (
        <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />
      ) : !s ? (
        <Spinner label="Loading statistics" />
      ) : (
        <>
          <div className="grid grid-cols-2 gap-4 lg:grid-cols-5">
            <Stat icon={<PhoneCall className={icon} aria-hidden="true" />} label="Calls this week" value={String(s.calls_this_week ?? 0)} hint={`${s.total_calls ?? 0} in total`} />
            <Stat icon={<Clock className={icon} aria-hidden="true" />} label="Minutes this week" value={formatMinutes(s.minutes_this_week ?? 0)} />
            <Stat icon={<Lightbulb className={icon} aria-hidden="true" />} label="Insights shown" value={String(s.insights_shown ?? 0)} />
            <Stat
              icon={<ThumbsUp className={icon} aria-hidden="true" />}
              label="Share liked"
              value={formatPercent(s.liked_share)}
              hint={likedHint(s.insights_liked ?? 0, s.insights_disliked ?? 0)}
            />
            <Stat icon={<CalendarClock className={icon} aria-hidden="true" />} label="Your talk ratio" value={formatPercent(s.avg_rep_talk_ratio)} hint="average; aim for 40–60%" />
          </div>
          <div className="mt-6 grid gap-4 lg:grid-cols-2">
            <Card title="Top objections">
              <BarList label="Top objections" items={(s.top_objections ?? []).map((o) => ({ label: humanizeKind(o.name), value: o.count }))} empty="No objections heard yet." tone="bg-amber-500" />
            </Card>
            <Card title="Competitors mentioned">
              <BarList label="Competitors mentioned" items={(s.top_competitors ?? []).map((o) => ({ label: humanizeKind(o.name), value: o.count }))} empty="No competitors mentioned yet." tone="bg-sky-500" />
            </Card>
          </div>
        </>
      )}
      <Suspense fallback={<Spinner label="Loading trends" />}>
        <TrendsCharts />
      </Suspense>
      <Card title="Recent calls" className="mt-6" actions={<Link to="/calls" className="text-sm text-indigo-600 hover:underline">All calls</Link>}>
        {recent.error ? (
          <ErrorState error={recent.error} onRetry={() => void recent.refetch()} />
        ) : !recent.data ? (
          <Spinner label="Loading calls" />
        ) : recent.data.items.length === 0 ? (
          <EmptyState icon={<PhoneCall className="h-6 w-6" />} title="No calls yet">
            Start a live call and it will show up here.
          </EmptyState>
        ) : (
          <ul className="divide-y divide-slate-100">
            {recent.data.items.map((c) => (
              <li key={c.id}>
                <Link to={`/calls/${c.id}`} className="flex items-center justify-between gap-4 rounded px-2 py-2.5 hover:bg-slate-50">
                  <span className="min-w-0">
                    <span className="block truncate font-medium text-slate-800">{c.title || 'Untitled call'}</span>
                    <span className="block truncate text-xs text-slate-500">{c.summary || 'No summary'}</span>
                  </span>
                  <span className="shrink-0 text-right text-xs text-slate-500">
                    {formatDateTime(c.start_time)}
                    <br />
                    {formatDuration(c.duration_seconds)}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}
