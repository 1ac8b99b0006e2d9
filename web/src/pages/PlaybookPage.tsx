import { useQuery, useQueryClient } from '@tanstack/react-query';
import { History, Plus, RotateCcw, Save, Undo2 } from 'lucide-react';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { PlaybookContent, PlaybookCurrent, PlaybookRule } from '../api/types';
import { NudgeEditor } from '../components/playbook/NudgeEditor';
import { RuleEditor } from '../components/playbook/RuleEditor';
import { input } from '../components/playbook/fields';
import { Badge, Button, Card, ErrorState, PageHeader, Spinner } from '../components/ui';
import { useUser } from '../lib/auth';
import { formatDateTime } from '../lib/format';
import { checkPlaybook, FAMILIES, newRule, NUDGES, problemsByRule, ruleKey, type Family, type PlaybookNudge, type Problems } from '../lib/playbook';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function AddRule({ family, title, taken, onAdd }: { family: Family; title: string; taken: (key: string) => boolean; onAdd: (key: string, label: string) => void }) {
  const [label, setLabel] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const key = ruleKey(label);
    if (!key) return setError('Name the rule with at least one letter.');
    if (taken(key)) return setError(`There is already a rule “${key}” here: pick another name.`);
    onAdd(key, label.trim());
    setLabel('');
    setError(null);
  };
  return (
    <form onSubmit={submit} aria-label={`Add to ${title}`} className="flex flex-wrap items-end gap-2">
      <label className="text-xs font-medium text-slate-600">
        New rule’s name
        <input aria-label={`New ${family} rule name`} className={`${input} w-64`} value={label} placeholder="e.g. Procurement delay" onChange={(e) => setLabel(e.target.value)} />
      </label>
      <Button type="submit"><Plus className="h-4 w-4" aria-hidden="true" /> Add rule</Button>
      {error && <p role="alert" className="w-full text-sm text-rose-700">{error}</p>}
    </form>
  );
}

/** The workspace's playbook: managers add, edit and remove rules (triggers, tips, categories,
 * priorities) and tune the talk-time nudges; every save is a version (who, when, what changed)
 * that live calls use from their next block. Checked here first; the server's own problems are
 * shown on the rule they name; a save that crossed someone else's is kept, not lost. */
export function PlaybookPage() {
  const user = useUser();
  const queryClient = useQueryClient();
  const canEdit = user?.role === 'admin' || user?.role === 'manager';
  const current = useQuery({ queryKey: ['playbook'], queryFn: ({ signal }) => api.playbook(signal) });
  const versions = useQuery({ queryKey: ['playbook', 'versions'], queryFn: ({ signal }) => api.playbookVersions(signal) });
  // the draft and the version it was started from
  const [edit, setEdit] = useState<{ base: PlaybookCurrent; draft: PlaybookContent } | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [serverProblems, setServerProblems] = useState<Problems>({});
  const [checked, setChecked] = useState(false); // show the checks' findings after a first save
  const [busy, setBusy] = useState(false);
  const dirty = edit !== null && !same(edit.draft, edit.base.playbook);

  // a newer version from the server replaces an untouched draft; an edited one is kept and the
  // newer version offered (see `newer` below)
  useEffect(() => {
    if (current.data && (edit === null || (!dirty && current.data.version !== edit.base.version))) {
      setEdit({ base: current.data, draft: structuredClone(current.data.playbook) });
    }
  }, [current.data, edit, dirty]);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);
  const draftProblems = useMemo(() => (edit ? checkPlaybook(edit.draft) : {}), [edit]);

  if (current.isPending || !edit) return current.error ? <ErrorState error={current.error} onRetry={() => void current.refetch()} /> : <Spinner label="Loading the playbook" />;
  const { base, draft } = edit;
  const newer = current.data && current.data.version !== base.version ? current.data : null;
  const setDraft = (next: PlaybookContent) => setEdit({ base, draft: next });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['playbook'] });

  const run = async (what: () => Promise<{ version: number }>, done: (v: number) => string) => {
    setBusy(true);
    setMessage(null);
    setServerProblems({});
    try {
      const saved = await what();
      setMessage({ ok: true, text: done(saved.version) });
      setChecked(false);
      setEdit(null); // take the saved version as it comes back (defaults filled in)
      await refresh();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'conflict') {
        setMessage({ ok: false, text: 'Someone saved a newer version while you were editing. Your changes are still here: compare, then save them over it or load theirs.' });
        await refresh();
      } else {
        if (err instanceof ApiError && err.problems.length) setServerProblems(problemsByRule(err.problems));
        setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
      }
    } finally {
      setBusy(false);
    }
  };
  const save = (over: number) => {
    setChecked(true);
    const count = Object.values(draftProblems).reduce((n, p) => n + p.length, 0);
    if (count > 0) {
      setMessage({ ok: false, text: `Not saved: fix ${count === 1 ? 'the problem' : `the ${count} problems`} shown on the rules first.` });
      const first = Object.keys(draftProblems)[0];
      document.querySelector(`[data-testid="rule-${first}"]`)?.scrollIntoView({ block: 'start' });
      return;
    }
    void run(() => api.savePlaybook(draft, over), (v) => `Saved version ${v}: live calls use it from their next block.`);
  };
  const confirmDrop = () => !dirty || window.confirm('Restoring drops the changes you have not saved. Restore anyway?');
  const problemsOf = (where: string) => [...(checked ? draftProblems[where] ?? [] : []), ...(serverProblems[where] ?? [])];
  const setRule = (family: Family, key: string, rule: PlaybookRule) => setDraft({ ...draft, [family]: { ...draft[family], [key]: rule } });
  const removeRule = (family: Family, key: string) => {
    const rest = { ...draft[family] };
    delete rest[key];
    setDraft({ ...draft, [family]: rest });
  };
  const nudges = (draft.nudges ?? {}) as Record<string, PlaybookNudge>;
  const setNudge = (key: string, n: PlaybookNudge) => setDraft({ ...draft, nudges: { ...nudges, [key]: n } });

  return (
    <>
      <PageHeader
        title="Playbook"
        subtitle={base.version === 0 ? 'The shipped template: edit it to make it your team’s.' : `Version ${base.version}, saved by ${base.author_name ?? '?'} ${formatDateTime(base.updated_at)}.`}
        actions={canEdit && (
          <div className="flex flex-wrap items-center gap-2">
            {dirty && <Badge tone="amber">Unsaved changes</Badge>}
            {dirty && (
              <Button variant="ghost" disabled={busy} onClick={() => { setEdit({ base, draft: structuredClone(base.playbook) }); setServerProblems({}); setChecked(false); setMessage(null); }}>
                <Undo2 className="h-4 w-4" aria-hidden="true" /> Discard changes
              </Button>
            )}
            <Button variant="primary" disabled={busy || !dirty} onClick={() => save(base.version)}>
              <Save className="h-4 w-4" aria-hidden="true" /> Save playbook
            </Button>
          </div>
        )}
      />
      {!canEdit && <p className="mb-3 text-sm text-slate-500">Managers and admins edit the playbook; you can read it.</p>}
      {message && <p role={message.ok ? 'status' : 'alert'} className={`mb-3 text-sm ${message.ok ? 'text-emerald-700' : 'text-rose-700'}`}>{message.text}</p>}
      {canEdit && newer && (
        <div data-testid="newer-version" className="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
          <span className="flex-1">
            {newer.author_name ?? 'Someone'} saved version {newer.version} {formatDateTime(newer.updated_at)} after you started editing version {base.version}.
          </span>
          <Button disabled={busy} onClick={() => save(newer.version)}>Save mine as the next version</Button>
          <Button variant="ghost" disabled={busy} onClick={() => { setEdit({ base: newer, draft: structuredClone(newer.playbook) }); setMessage(null); setServerProblems({}); }}>
            Load version {newer.version} (drop mine)
          </Button>
        </div>
      )}
      {serverProblems.playbook && <ul className="mb-3 text-sm text-rose-700">{serverProblems.playbook.map((p) => <li key={p}>{p}</li>)}</ul>}
      <div className="grid gap-4 lg:grid-cols-[1fr_18rem]">
        <div className="min-w-0">
          {FAMILIES.map(({ key: family, title }) => (
            <section key={family} aria-label={title} className="mb-6">
              <h2 className="mb-2 text-sm font-semibold text-slate-700">{title}</h2>
              {Object.keys(draft[family] ?? {}).length === 0 && <p className="mb-2 text-sm text-slate-500">No rules here yet.</p>}
              {Object.entries(draft[family] ?? {}).map(([key, rule]) => (
                <RuleEditor
                  key={key}
                  id={`${family}.${key}`}
                  rule={rule}
                  readOnly={!canEdit}
                  problems={problemsOf(`${family}.${key}`)}
                  onChange={(r) => setRule(family, key, r)}
                  onRemove={() => { if (window.confirm(`Remove the rule “${rule.label || key}”? It goes when you save.`)) removeRule(family, key); }}
                />
              ))}
              {canEdit && (
                <AddRule
                  family={family}
                  title={title}
                  taken={(k) => k in (draft[family] ?? {})}
                  onAdd={(k, label) => {
                    setRule(family, k, newRule(family, label));
                    requestAnimationFrame(() => document.getElementById(`rule-${family}.${k}`)?.scrollIntoView({ block: 'start' }));
                  }}
                />
              )}
            </section>
          ))}
          <section aria-label="Talk-time nudges" className="mb-4">
            <h2 className="mb-2 text-sm font-semibold text-slate-700">Talk-time nudges</h2>
            {NUDGES.map((spec) => {
              const nudge = nudges[spec.key];
              return nudge && (
              <NudgeEditor key={spec.key} spec={spec} nudge={nudge} readOnly={!canEdit} problems={problemsOf(`nudges.${spec.key}`)} onChange={(n) => setNudge(spec.key, n)} />
              );
            })}
          </section>
        </div>
        <Card title={<span className="flex items-center gap-1.5"><History className="h-4 w-4" aria-hidden="true" /> Versions</span>}>
          {versions.isPending ? <Spinner /> : versions.error ? <ErrorState error={versions.error} /> : (
            <ol className="flex flex-col gap-3 text-sm" aria-label="Playbook versions">
              {versions.data.map((v) => (
                <li key={v.version} className="border-b border-slate-100 pb-2">
                  <div className="flex items-center justify-between">
                    <span className="font-medium">Version {v.version}</span>
                    {canEdit && v.version !== base.version && (
                      <Button variant="ghost" disabled={busy} onClick={() => confirmDrop() && void run(() => api.restorePlaybook(v.version, current.data?.version ?? base.version), (n) => `Restored version ${v.version} as version ${n}.`)}>
                        <RotateCcw className="h-4 w-4" aria-hidden="true" /> Restore
                      </Button>
                    )}
                  </div>
                  <div className="text-xs text-slate-500">{v.author_name}, {formatDateTime(v.created_at)}</div>
                  <div className="break-words text-xs text-slate-600">{v.changes}</div>
                </li>
              ))}
              <li className="flex items-center justify-between text-xs text-slate-500">
                The shipped template
                {canEdit && base.version !== 0 && (
                  <Button variant="ghost" disabled={busy} onClick={() => confirmDrop() && void run(() => api.restorePlaybook(0, current.data?.version ?? base.version), (n) => `Restored the template as version ${n}.`)}>
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
