import type { MetricsEvent } from '../api/types';

/** Reps who talk 40–60% of the time tend to do best; outside that band the gauge turns amber. */
const BAND: [number, number] = [0.4, 0.6];

export function TalkGauge({ metrics }: { metrics: MetricsEvent | null }) {
  const ratio = metrics?.rep_talk_ratio ?? null;
  const pct = ratio === null ? null : Math.round(ratio * 100);
  const inBand = ratio !== null && ratio >= BAND[0] && ratio <= BAND[1];
  return (
    <div>
      <div className="mb-1 flex items-baseline justify-between text-xs text-slate-500">
        <span>You</span>
        <span className="text-sm font-semibold text-slate-800" aria-hidden="true">
          {pct === null ? '—' : `${pct}% / ${100 - pct}%`}
        </span>
        <span>Customer</span>
      </div>
      <div
        // a meter needs a value: before there is one, an image that says so
        {...(pct === null
          ? { role: 'img', 'aria-label': 'Your share of talk time: not enough speech yet' }
          : { role: 'meter', 'aria-label': 'Your share of talk time', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct, 'aria-valuetext': `You ${pct}%, customer ${100 - pct}%` })}
        className="relative h-3 overflow-hidden rounded-full bg-emerald-200"
      >
        <div
          className={`h-full transition-[width] duration-500 ${ratio === null ? 'bg-slate-200' : inBand ? 'bg-indigo-500' : 'bg-amber-500'}`}
          style={{ width: `${pct ?? 100}%` }}
        />
        {/* the target band */}
        <div className="pointer-events-none absolute inset-y-0 border-x-2 border-white/80" style={{ left: `${BAND[0] * 100}%`, width: `${(BAND[1] - BAND[0]) * 100}%` }} />
      </div>
      {metrics && (
        <dl className="mt-3 grid grid-cols-2 gap-x-3 gap-y-1 text-xs text-slate-600">
          <dt>Longest monologue</dt>
          <dd className="text-right tabular-nums">{Math.round(metrics.longest_monologue_seconds)} s</dd>
          <dt>Your questions</dt>
          <dd className="text-right tabular-nums">{metrics.rep_questions}</dd>
          <dt>Customer questions</dt>
          <dd className="text-right tabular-nums">{metrics.customer_questions}</dd>
        </dl>
      )}
      {metrics && ratio === null && (
        <p className="mt-2 text-xs text-slate-500">The ratio needs both voices apart: tick “Also capture customer audio” when you start a call.</p>
      )}
      {ratio !== null && !inBand && (
        <p className="mt-2 text-xs text-amber-700">{ratio > BAND[1] ? 'You are doing most of the talking: ask and listen.' : 'Customer is talking a lot: steer toward next steps.'}</p>
      )}
    </div>
  );
}
