import { useQuery, useQueryClient } from '@tanstack/react-query';
import { History, RotateCcw, Save } from 'lucide-react';
import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { PlaybookContent, PlaybookRule } from '../api/types';
import { Badge, Button, Card, ErrorState, PageHeader, Spinner } from '../components/ui';
import { useUser } from '../lib/auth';
import { formatDateTime } from '../lib/format';

const FAMILIES = [
  { key: 'objections', title: 'Objections' },
  { key: 'signals', title: 'Buying signals' },
  { key: 'tone', title: 'Tone' },
] as const;
type Family = (typeof FAMILIES)[number]['key'];
const input = 'mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500 disabled:bg-slate-50';

const lines = (v: string[]) => v.join('\n');
const unlines = (v: string) => v.split('\n').map((s) => s.trim()).filter(Boolean);

function RuleEditor({ id, rule, readOnly, onChange }: { id: string; rule: PlaybookRule; readOnly: boolean; onChange: (r: PlaybookRule) => void }) {
  const field = (name: keyof PlaybookRule, label: string, hint: string) => (
    <label className="text-xs font-medium text-slate-600">
      {label} <span className="font-normal text-slate-400">({hint})</span>
      <textarea
        aria-label={`${id} ${label}`}
        className={`${input} font-mono`}
        rows={3}
        disabled={readOnly}
        value={lines(rule[name] as string[])}
        onChange={(e) => onChange({ ...rule, [name]: unlines(e.target.value) })}
      />
    </label>
  );
  return (
    <Card title={<span>{rule.label} <Badge>{id}</Badge></span>} className="mb-3">
      <div className="grid gap-3 md:grid-cols-3">
        <label className="text-xs font-medium text-slate-600">
          Name
          <input aria-label={`${id} name`} className={input} disabled={readOnly} value={rule.label} onChange={(e) => onChange({ ...rule, label: e.target.value })} />
        </label>
        <label className="text-xs font-medium text-slate-600">
          Category
          <input aria-label={`${id} category`} className={input} disabled={readOnly} value={rule.category} onChange={(e) => onChange({ ...rule, category: e.target.value })} />
        </label>
        <label className="text-xs font-medium text-slate-600">
          Priority (0 to 1)
          <input aria-label={`${id} priority`} className={input} type="number" min={0} max={1} step={0.05} disabled={readOnly} value={rule.priority} onChange={(e) => onChange({ ...rule, priority: Number(e.target.value) })} />
        </label>
      </div>
      <div className="mt-3 grid gap-3 md:grid-cols-3">
        {field('patterns', 'Trigger phrases', 'one pattern a line; regular expressions')}
        {field('examples', 'Example sentences', 'one a line; matched by meaning')}
        {field('tips', 'Tips', 'one a line; shown in turn')}
      </div>
    </Card>
  );
}

/** The workspace's playbook: managers edit triggers, tips, categories and priorities; every
 * save is a version (who, when, what changed) that live calls use from their next block. */
export function PlaybookPage() {
  const user = useUser();
  const queryClient = useQueryClient();
  const canEdit = user?.role === 'admin' || user?.role === 'manager';
  const current = useQuery({ queryKey: ['playbook'], queryFn: ({ signal }) => api.playbook(signal) });
  const versions = useQuery({ queryKey: ['playbook', 'versions'], queryFn: ({ signal }) => api.playbookVersions(signal) });
  const [draft, setDraft] = useState<PlaybookContent | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (current.data) setDraft(structuredClone(current.data.playbook));
  }, [current.data]);

  if (current.isPending || !draft) return current.error ? <ErrorState error={current.error} onRetry={() => void current.refetch()} /> : <Spinner label="Loading the playbook" />;
  const base = current.data?.version ?? 0;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['playbook'] });
  const run = async (what: () => Promise<{ version: number }>, done: (v: number) => string) => {
    setBusy(true);
    setMessage(null);
    try {
      const saved = await what();
      setMessage({ ok: true, text: done(saved.version) });
      await refresh();
    } catch (err) {
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };
  const setRule = (family: Family, id: string, rule: PlaybookRule) => setDraft({ ...draft, [family]: { ...draft[family], [id]: rule } });

  return (
    <>
      <PageHeader
        title="Playbook"
        subtitle={base === 0 ? 'The shipped template: edit it to make it your team’s.' : `Version ${base}, saved by ${current.data?.author_name ?? '?'} ${formatDateTime(current.data?.updated_at)}.`}
        actions={canEdit && (
          <Button variant="primary" disabled={busy} onClick={() => void run(() => api.savePlaybook(draft, base), (v) => `Saved version ${v}: live calls use it from their next block.`)}>
            <Save className="h-4 w-4" aria-hidden="true" /> Save playbook
          </Button>
        )}
      />
      {!canEdit && <p className="mb-3 text-sm text-slate-500">Managers and admins edit the playbook; you can read it.</p>}
      {message && <p role={message.ok ? 'status' : 'alert'} className={`mb-3 text-sm ${message.ok ? 'text-emerald-700' : 'text-rose-700'}`}>{message.text}</p>}
      <div className="grid gap-4 lg:grid-cols-[1fr_18rem]">
        <div>
          {FAMILIES.map(({ key, title }) => (
            <section key={key} aria-label={title} className="mb-4">
              <h2 className="mb-2 text-sm font-semibold text-slate-700">{title}</h2>
              {Object.entries(draft[key] ?? {}).map(([id, rule]) => (
                <RuleEditor key={id} id={`${key}.${id}`} rule={rule} readOnly={!canEdit} onChange={(r) => setRule(key, id, r)} />
              ))}
            </section>
          ))}
        </div>
        <Card title={<span className="flex items-center gap-1.5"><History className="h-4 w-4" aria-hidden="true" /> Versions</span>}>
          {versions.isPending ? <Spinner /> : versions.error ? <ErrorState error={versions.error} /> : (
            <ol className="flex flex-col gap-3 text-sm" aria-label="Playbook versions">
              {versions.data.map((v) => (
                <li key={v.version} className="border-b border-slate-100 pb-2">
                  <div className="flex items-center justify-between">
                    <span className="font-medium">Version {v.version}</span>
                    {canEdit && v.version !== base && (
                      <Button variant="ghost" disabled={busy} onClick={() => void run(() => api.restorePlaybook(v.version, base), (n) => `Restored version ${v.version} as version ${n}.`)}>
                        <RotateCcw className="h-4 w-4" aria-hidden="true" /> Restore
                      </Button>
                    )}
                  </div>
                  <div className="text-xs text-slate-500">{v.author_name}, {formatDateTime(v.created_at)}</div>
                  <div className="text-xs text-slate-600">{v.changes}</div>
                </li>
              ))}
              <li className="flex items-center justify-between text-xs text-slate-500">
                The shipped template
                {canEdit && base !== 0 && (
                  <Button variant="ghost" disabled={busy} onClick={() => void run(() => api.restorePlaybook(0, base), (n) => `Restored the template as version ${n}.`)}>
                    <RotateCcw className="h-4 w-4" aria-hidden="true" /> Restore
                  </Button>
                )}
              </li>
            </ol>
          )}
        </Card>
      </div>
    </>
  );
}
