/**
 * The call history's filters (rep, date range, competitor, objection), kept in the URL so a
 * filtered view can be shared as a link and survives a reload. The API filters; this module
 * only turns URL parameters into the API's and draws the controls.
 */
import { useQuery } from '@tanstack/react-query';
import { X } from 'lucide-react';
import { useEffect, useId, useState, type ReactNode } from 'react';
import { api, request } from '../api/client';
import { Button } from './ui';

/** What the URL holds: dates are the user's local days, both ends included. */
export interface CallFilterValues {
  rep: string;
  from: string;
  to: string;
  competitor: string;
  objection: string;
}

export const FILTER_KEYS = ['rep', 'from', 'to', 'competitor', 'objection'] as const;

export function readFilters(params: URLSearchParams): CallFilterValues {
  const get = (k: string) => params.get(k)?.trim() ?? '';
  return { rep: get('rep'), from: get('from'), to: get('to'), competitor: get('competitor'), objection: get('objection') };
}

export function hasFilters(f: CallFilterValues): boolean {
  return FILTER_KEYS.some((k) => f[k] !== '');
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Local midnight of `day` (YYYY-MM-DD) plus `addDays`, as an ISO instant; undefined if not a day. */
export function localDayStart(day: string, addDays = 0): string | undefined {
  if (!DAY.test(day)) return undefined;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const at = new Date(y, m - 1, d + addDays);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** The filters as GET /api/calls takes them: `to` is inclusive, so `until` is the next midnight. */
export function apiFilters(f: CallFilterValues): { rep?: string; since?: string; until?: string; competitor?: string; objection?: string } {
  return {
    rep: f.rep || undefined,
    since: localDayStart(f.from),
    until: localDayStart(f.to, 1),
    competitor: f.competitor || undefined,
    objection: f.objection || undefined,
  };
}

interface ProfileOut {
  profile: { competitors: { name: string }[] } | null;
}

const field = 'mt-1 block w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500';

/** A label beside (not around) its control, so the control's name is the label's words only. */
function Labelled({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={id} className="text-xs font-medium text-slate-600">{label}</label>
      {children}
    </div>
  );
}

/** The filter controls; `canPickRep`: managers and admins (a rep sees only their own calls). */
export function CallFilters({
  values,
  canPickRep,
  onChange,
}: {
  values: CallFilterValues;
  canPickRep: boolean;
  onChange: (next: CallFilterValues) => void;
}) {
  const team = useQuery({ queryKey: ['team'], queryFn: ({ signal }) => api.team(signal), enabled: canPickRep });
  const playbook = useQuery({ queryKey: ['playbook'], queryFn: ({ signal }) => api.playbook(signal) });
  const profile = useQuery({ queryKey: ['profile'], queryFn: ({ signal }) => request<ProfileOut>('/api/profile', { signal }) });
  const id = useId();
  const set = (k: keyof CallFilterValues, v: string) => onChange({ ...values, [k]: v });

  const reps = team.data?.reps.map((r) => r.member) ?? [];
  const objections = Object.entries(playbook.data?.playbook?.objections ?? {}).map(([key, rule]) => ({ key, label: rule.label }));
  // a filter from a shared link still shows even if the playbook no longer has that rule
  if (values.objection && !objections.some((o) => o.key === values.objection)) objections.push({ key: values.objection, label: values.objection });
  const competitors = profile.data?.profile?.competitors?.map((c) => c.name) ?? [];
  // typed words reach the URL (and the API) on Enter, on leaving the field or when they name a
  // known competitor (picked from the list), not on every keystroke
  const [competitor, setCompetitor] = useState(values.competitor);
  useEffect(() => setCompetitor(values.competitor), [values.competitor]);
  const commitCompetitor = (v: string) => {
    if (v.trim() !== values.competitor) set('competitor', v.trim());
  };
  const badRange = values.from && values.to && values.from > values.to;

  return (
    <fieldset className="mb-4 rounded-lg border border-slate-200 bg-white p-3 shadow-sm" aria-label="Filter calls">
      <legend className="sr-only">Filter calls</legend>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
        {canPickRep && (
          <Labelled id={`${id}-rep`} label="Rep">
            <select id={`${id}-rep`} className={field} value={values.rep} onChange={(e) => set('rep', e.target.value)}>
              <option value="">Everyone</option>
              {reps.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
              {values.rep && !reps.some((m) => m.id === values.rep) && <option value={values.rep}>{team.isPending ? 'Loading…' : 'Someone not on your team'}</option>}
            </select>
          </Labelled>
        )}
        <Labelled id={`${id}-from`} label="From">
          <input id={`${id}-from`} type="date" className={field} value={values.from} max={values.to || undefined} onChange={(e) => set('from', e.target.value)} />
        </Labelled>
        <Labelled id={`${id}-to`} label="To">
          <input id={`${id}-to`} type="date" className={field} value={values.to} min={values.from || undefined} onChange={(e) => set('to', e.target.value)} />
        </Labelled>
        <Labelled id={`${id}-competitor`} label="Competitor">
          <input
            id={`${id}-competitor`}
            className={field}
            list={`${id}-competitors`}
            value={competitor}
            placeholder="Any"
            onChange={(e) => {
              setCompetitor(e.target.value);
              if (competitors.includes(e.target.value) || e.target.value === '') commitCompetitor(e.target.value);
            }}
            onBlur={() => commitCompetitor(competitor)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                commitCompetitor(competitor);
              }
            }}
          />
          <datalist id={`${id}-competitors`}>
            {competitors.map((c) => <option key={c} value={c} />)}
          </datalist>
        </Labelled>
        <Labelled id={`${id}-objection`} label="Objection">
          <select id={`${id}-objection`} className={field} value={values.objection} onChange={(e) => set('objection', e.target.value)}>
            <option value="">Any</option>
            {objections.map((o) => <option key={o.key} value={o.key}>{o.label}</option>)}
          </select>
        </Labelled>
        <div className="flex items-end">
          <Button variant="ghost" disabled={!hasFilters(values)} onClick={() => onChange({ rep: '', from: '', to: '', competitor: '', objection: '' })}>
            <X className="h-4 w-4" aria-hidden="true" /> Clear filters
          </Button>
        </div>
      </div>
      {badRange && <p role="alert" className="mt-2 text-sm text-rose-700">“From” is after “To”: no call can match.</p>}
    </fieldset>
  );
}
