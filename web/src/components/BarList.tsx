/** Horizontal CSS bars: enough of a chart for counts, no chart library. */
export function BarList({ items, empty = 'No data yet.', tone = 'bg-indigo-500', label }: { items: { label: string; value: number }[]; empty?: string; tone?: string; label: string }) {
  if (items.length === 0) return <p className="text-sm text-slate-500">{empty}</p>;
  const max = Math.max(...items.map((i) => i.value), 1);
  return (
    <ul className="flex flex-col gap-2" aria-label={label}>
      {items.map((i) => (
        <li key={i.label} className="grid grid-cols-[8rem_1fr_2.5rem] items-center gap-2 text-sm">
          <span className="truncate text-slate-700" title={i.label}>
            {i.label}
          </span>
          <span className="h-2.5 rounded-full bg-slate-100" aria-hidden="true">
            <span className={`block h-full rounded-full ${tone}`} style={{ width: `${(i.value / max) * 100}%` }} />
          </span>
          <span className="text-right tabular-nums text-slate-600">{i.value}</span>
        </li>
      ))}
    </ul>
  );
}
