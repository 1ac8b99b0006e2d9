/** Inputs the playbook editor's rules and nudges share. */
import { useEffect, useState } from 'react';

export const input = 'mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500 disabled:bg-slate-50';
const label = 'text-xs font-medium text-slate-600';

const lines = (v: readonly string[]) => v.join('\n');
const unlines = (v: string) => v.split('\n').map((s) => s.trim()).filter(Boolean);

/** One entry a line. The text is kept as typed (a new empty line stays while you write it);
 * the list it means goes up on every change. */
export function LinesField({ name, label: text, hint, value, readOnly, onChange }: {
  name: string;
  label: string;
  hint: string;
  value: readonly string[];
  readOnly: boolean;
  onChange: (v: string[]) => void;
}) {
  const [draft, setDraft] = useState(lines(value));
  // a value changed from outside (a restore, a reload) replaces the text
  useEffect(() => {
    setDraft((d) => (lines(unlines(d)) === lines(value) ? d : lines(value)));
  }, [value]);
  return (
    <label className={label}>
      {text} <span className="font-normal text-slate-500">({hint})</span>
      <textarea
        aria-label={name}
        className={`${input} font-mono`}
        rows={3}
        disabled={readOnly}
        value={draft}
        onChange={(e) => {
          setDraft(e.target.value);
          onChange(unlines(e.target.value));
        }}
      />
    </label>
  );
}

export function TextField({ name, label: text, value, readOnly, onChange }: {
  name: string;
  label: string;
  value: string;
  readOnly: boolean;
  onChange: (v: string) => void;
}) {
  return (
    <label className={label}>
      {text}
      <input aria-label={name} className={input} disabled={readOnly} value={value} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

/** A number; while the box is empty or half typed the value is NaN, which the checks refuse. */
export function NumberField({ name, label: text, value, min, max, step, readOnly, onChange }: {
  name: string;
  label: string;
  value: number;
  min: number;
  max: number;
  step: number;
  readOnly: boolean;
  onChange: (v: number) => void;
}) {
  return (
    <label className={label}>
      {text}
      <input
        aria-label={name}
        className={input}
        type="number"
        min={min}
        max={max}
        step={step}
        disabled={readOnly}
        value={Number.isFinite(value) ? value : ''}
        onChange={(e) => onChange(e.target.value === '' ? Number.NaN : Number(e.target.value))}
      />
    </label>
  );
}

/** What to fix on this rule, from the checks before saving or from the server. */
export function ProblemList({ name, problems }: { name: string; problems: readonly string[] | undefined }) {
  if (!problems?.length) return null;
  return (
    <ul aria-label={`${name} problems`} className="mb-3 list-disc rounded-md border border-rose-200 bg-rose-50 py-2 pl-6 pr-3 text-sm text-rose-800">
      {problems.map((p) => <li key={p}>{p}</li>)}
    </ul>
  );
}
