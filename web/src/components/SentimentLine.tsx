/**
 * The customer's sentiment as the call goes: one dot per final customer segment on a -1..1
 * line (a small SVG, so the live page stays light; the call page draws the full chart).
 */
import type { SentimentEvent } from '../api/after';

const COLORS = { positive: '#10b981', neutral: '#94a3b8', negative: '#f43f5e' } as const;

export function SentimentLine({ points }: { points: SentimentEvent[] }) {
  if (points.length === 0) {
    return (
      <p data-testid="live-sentiment" data-points="0" className="text-sm text-slate-500">
        The customer&apos;s mood shows here once they speak.
      </p>
    );
  }
  const w = 300;
  const h = 60;
  const span = Math.max(points[points.length - 1]?.end ?? 1, 1);
  const x = (t: number) => 6 + (t / span) * (w - 12);
  const y = (s: number) => h / 2 - s * (h / 2 - 6);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.start).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
  const last = points[points.length - 1] as SentimentEvent;
  return (
    <div data-testid="live-sentiment" data-points={points.length}>
      <svg viewBox={`0 0 ${w} ${h}`} className="h-16 w-full" role="img" aria-label={`Customer sentiment: now ${last.label}`}>
        <line x1={0} x2={w} y1={h / 2} y2={h / 2} stroke="#e2e8f0" />
        <path d={path} fill="none" stroke="#6366f1" strokeWidth={1.5} />
        {points.map((p) => (
          <circle key={p.id} cx={x(p.start)} cy={y(p.score)} r={3} fill={COLORS[p.label]} />
        ))}
      </svg>
      <p className="text-xs text-slate-500">
        Now: <span style={{ color: COLORS[last.label] }}>{last.label}</span>
      </p>
    </div>
  );
}
