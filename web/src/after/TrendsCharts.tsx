/**
 * The dashboard's trends (recharts): calls and minutes, tips shown and liked, objections and
 * competitors per day or week, and the talk ratio of each call, over a week, month or quarter.
 * Managers and admins pick whose: their own calls, their team's (a chart and a table per rep)
 * or one rep's; the server decides who may see whom. Loaded lazily: the chart library stays
 * out of the first page load.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { afterApi, type RepTrend, type TrendBucket, type TrendRange, type Trends, type TrendScope } from '../api/after';
import { Card, ErrorState, Spinner } from '../components/ui';
import { useUser } from '../lib/auth';
import { humanizeKind } from '../lib/format';

const RANGES: { value: TrendRange; label: string }[] = [
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'quarter', label: 'Quarter' },
];
const PALETTE = ['#f59e0b', '#0ea5e9', '#8b5cf6', '#10b981', '#f43f5e', '#64748b'];

function bucketLabel(iso: string, bucket: Trends['bucket']): string {
  const d = new Date(iso);
  const opts: Intl.DateTimeFormatOptions = bucket === 'day' ? { weekday: 'short', day: 'numeric' } : { month: 'short', day: 'numeric' };
  return d.toLocaleDateString(undefined, { ...opts, timeZone: 'UTC' });
}

/** Rows for a stacked chart of per-bucket counts (objections, competitors): one key per name. */
export function stackRows(buckets: TrendBucket[], pick: (b: TrendBucket) => Record<string, number>, label: (b: TrendBucket) => string) {
  const names = [...new Set(buckets.flatMap((b) => Object.keys(pick(b))))].sort();
  const rows = buckets.map((b) => ({ label: label(b), ...Object.fromEntries(names.map((n) => [n, pick(b)[n] ?? 0])) }));
  return { names, rows };
}

function ChartCard({ title, testId, empty, emptyText, children }: { title: string; testId: string; empty: boolean; emptyText: string; children: React.ReactElement }) {
  return (
    <Card title={title}>
      <div data-testid={testId} data-empty={empty ? 'true' : 'false'} className="h-56">
        {empty ? (
          <p className="flex h-full items-center justify-center text-sm text-slate-500">{emptyText}</p>
        ) : (
          <ResponsiveContainer width="100%" height="100%">
            {children}
          </ResponsiveContainer>
        )}
      </div>
    </Card>
  );
}

/** Rows for the calls-per-rep chart: one key per rep (by id), aligned with the buckets. */
export function repRows(trends: Trends, label: (b: TrendBucket) => string) {
  return trends.buckets.map((b, i) => ({ label: label(b), ...Object.fromEntries(trends.reps.map((r) => [r.user_id, r.calls_per_bucket[i] ?? 0])) }));
}

function percent(ratio: number | null): string {
  return ratio === null ? '—' : `${Math.round(ratio * 100)}%`;
}

function RepTable({ reps }: { reps: RepTrend[] }) {
  return (
    <Card title="Per rep">
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="rep-trends">
          <thead className="text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-1 pr-3 font-semibold">Rep</th>
              <th className="py-1 pr-3 font-semibold">Calls</th>
              <th className="py-1 pr-3 font-semibold">Minutes</th>
              <th className="py-1 pr-3 font-semibold">Talk ratio</th>
              <th className="py-1 pr-3 font-semibold">Objections</th>
              <th className="py-1 font-semibold">Tips liked</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {reps.map((r) => (
              <tr key={r.user_id}>
                <td className="py-1.5 pr-3 font-medium">{r.name}</td>
                <td className="py-1.5 pr-3 tabular-nums">{r.calls}</td>
                <td className="py-1.5 pr-3 tabular-nums">{r.minutes}</td>
                <td className="py-1.5 pr-3 tabular-nums">{percent(r.rep_talk_ratio)}</td>
                <td className="py-1.5 pr-3 tabular-nums">{r.objections}</td>
                <td className="py-1.5 tabular-nums">
                  {r.tips_liked} / {r.tips_shown}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

export function TrendsView({ trends }: { trends: Trends }) {
  const label = (b: TrendBucket) => bucketLabel(b.start, trends.bucket);
  const per = trends.bucket === 'day' ? 'day' : 'week';
  const activity = trends.buckets.map((b) => ({ label: label(b), calls: b.calls, minutes: b.minutes, shown: b.tips_shown, liked: b.tips_liked }));
  const noCalls = trends.buckets.every((b) => b.calls === 0);
  const noTips = trends.buckets.every((b) => b.tips_shown === 0);
  const objections = stackRows(trends.buckets, (b) => b.objections, label);
  const competitors = stackRows(trends.buckets, (b) => b.competitors, label);
  const ratios = trends.calls
    .filter((c) => c.rep_talk_ratio !== null)
    .map((c, i) => ({ label: `#${i + 1}`, title: c.title, ratio: Math.round((c.rep_talk_ratio ?? 0) * 100) }));
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <ChartCard title={`Calls and minutes per ${per}`} testId="chart-calls" empty={noCalls} emptyText="No calls in this range.">
        <BarChart data={activity}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis yAxisId="calls" allowDecimals={false} fontSize={12} />
          <YAxis yAxisId="minutes" orientation="right" fontSize={12} />
          <Tooltip />
          <Legend />
          <Bar yAxisId="calls" dataKey="calls" name="Calls" fill="#6366f1" />
          <Bar yAxisId="minutes" dataKey="minutes" name="Minutes" fill="#a5b4fc" />
        </BarChart>
      </ChartCard>
      <ChartCard title={trends.scope === 'me' ? 'Your talk ratio per call' : 'Rep talk ratio per call'} testId="chart-talk" empty={ratios.length === 0} emptyText="No calls with both speakers in this range.">
        <LineChart data={ratios}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis domain={[0, 100]} unit="%" fontSize={12} />
          <Tooltip formatter={(v) => [`${String(v)}%`, trends.scope === 'me' ? 'You talked' : 'The rep talked']} labelFormatter={(_, p) => String(p?.[0]?.payload?.title ?? '')} />
          <ReferenceLine y={60} stroke="#f59e0b" strokeDasharray="4 4" />
          <Line type="monotone" dataKey="ratio" name="Talk ratio" stroke="#6366f1" strokeWidth={2} dot />
        </LineChart>
      </ChartCard>
      <ChartCard title={`Objections by ${per}`} testId="chart-objections" empty={objections.names.length === 0} emptyText="No objections heard in this range.">
        <BarChart data={objections.rows}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} />
          <Tooltip />
          <Legend />
          {objections.names.map((n, i) => (
            <Bar key={n} dataKey={n} name={humanizeKind(n)} stackId="o" fill={PALETTE[i % PALETTE.length]} />
          ))}
        </BarChart>
      </ChartCard>
      <ChartCard title={`Competitors by ${per}`} testId="chart-competitors" empty={competitors.names.length === 0} emptyText="No competitors mentioned in this range.">
        <BarChart data={competitors.rows}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} />
          <Tooltip />
          <Legend />
          {competitors.names.map((n, i) => (
            <Bar key={n} dataKey={n} name={n} stackId="c" fill={PALETTE[(i + 1) % PALETTE.length]} />
          ))}
        </BarChart>
      </ChartCard>
      <ChartCard title={`Tips shown and liked per ${per}`} testId="chart-tips" empty={noTips} emptyText="No tips shown in this range.">
        <BarChart data={activity}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} />
          <Tooltip />
          <Legend />
          <Bar dataKey="shown" name="Shown" fill="#cbd5e1" />
          <Bar dataKey="liked" name="Liked" fill="#10b981" />
        </BarChart>
      </ChartCard>
      {trends.scope === 'team' && (
        <>
          <ChartCard title={`Calls per rep by ${per}`} testId="chart-reps" empty={trends.reps.every((r) => r.calls === 0)} emptyText="None of your reps had a call in this range.">
            <LineChart data={repRows(trends, label)}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="label" fontSize={12} />
              <YAxis allowDecimals={false} fontSize={12} />
              <Tooltip />
              <Legend />
              {trends.reps.map((r, i) => (
                <Line key={r.user_id} type="monotone" dataKey={r.user_id} name={r.name} stroke={PALETTE[i % PALETTE.length]} strokeWidth={2} dot />
              ))}
            </LineChart>
          </ChartCard>
          {trends.reps.length > 0 && <RepTable reps={trends.reps} />}
        </>
      )}
    </div>
  );
}

/** Whose trends a manager or admin looks at: their own, the team's, or one rep's. */
function WhoPicker({ range, value, onChange }: { range: TrendRange; value: TrendScope; onChange: (v: TrendScope) => void }) {
  const user = useUser();
  // the team's trends list the reps this user may see (the same query the team view uses)
  const team = useQuery({ queryKey: ['trends', range, 'team'], queryFn: ({ signal }) => afterApi.trends(range, signal, 'team') });
  const everyone = user?.role === 'admin';
  return (
    <label className="flex items-center gap-2 text-sm text-slate-600">
      Whose
      <select value={value} onChange={(e) => onChange(e.target.value)} className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm">
        <option value="me">My calls</option>
        <option value="team">{everyone ? 'Everyone' : 'My team'}</option>
        {(team.data?.reps ?? [])
          .filter((r) => r.user_id !== user?.id)
          .map((r) => (
            <option key={r.user_id} value={r.user_id}>
              {r.name}
            </option>
          ))}
      </select>
    </label>
  );
}

export default function TrendsCharts() {
  const [range, setRange] = useState<TrendRange>('month');
  const [scope, setScope] = useState<TrendScope>('me');
  const role = useUser()?.role;
  const leads = role === 'admin' || role === 'manager';
  const trends = useQuery({ queryKey: ['trends', range, scope], queryFn: ({ signal }) => afterApi.trends(range, signal, scope) });
  return (
    <section className="mt-6" aria-label="Trends">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">Trends</h2>
        {leads && <WhoPicker range={range} value={scope} onChange={setScope} />}
        <div role="group" aria-label="Range" className="inline-flex rounded-md border border-slate-300 bg-white p-0.5">
          {RANGES.map((r) => (
            <button
              key={r.value}
              type="button"
              aria-pressed={range === r.value}
              onClick={() => setRange(r.value)}
              className={`rounded px-3 py-1 text-sm ${range === r.value ? 'bg-indigo-600 text-white' : 'text-slate-600 hover:bg-slate-100'}`}
            >
              {r.label}
            </button>
          ))}
        </div>
      </div>
      {trends.error ? <ErrorState error={trends.error} onRetry={() => void trends.refetch()} /> : !trends.data ? <Spinner label="Loading trends" /> : <TrendsView trends={trends.data} />}
    </section>
  );
}
