/**
 * The call page's summary, editable: the rep (or their manager) fixes the wording and the
 * action items before they go to the CRM and the follow-up email, or reverts to the generated
 * summary. Saves carry the version the edit started from; when someone else saved in between,
 * the server answers 409 and the editor says so and offers to reload their version.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ListChecks, Pencil, RefreshCw, Undo2 } from 'lucide-react';
import { useState } from 'react';
import { afterApi, type CallSummary } from '../api/after';
import { ApiError } from '../api/client';
import { Badge, Button, Card, ErrorState, Spinner } from '../components/ui';
import { formatDateTime } from '../lib/format';
import { keys } from '../lib/query';

const summaryKey = (callId: string) => ['call', callId, 'summary'] as const;

function ActionItems({ items }: { items: readonly string[] }) {
  if (items.length === 0) return null;
  return (
    <>
      <h3 className="mb-1 mt-4 flex items-center gap-1 text-xs font-semibold uppercase tracking-wide text-slate-500">
        <ListChecks className="h-3.5 w-3.5" aria-hidden="true" /> Action items
      </h3>
      <ul className="list-disc pl-5 text-sm text-slate-800" data-testid="call-detail-action-items">
        {items.map((a, i) => (
          <li key={i}>{a}</li>
        ))}
      </ul>
    </>
  );
}

export function SummaryEditor({ callId, ended }: { callId: string; ended: boolean }) {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: summaryKey(callId), queryFn: ({ signal }) => afterApi.summary(callId, signal) });
  const [draft, setDraft] = useState<{ text: string; items: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const apply = (s: CallSummary) => {
    qc.setQueryData(summaryKey(callId), s);
    void qc.invalidateQueries({ queryKey: keys.call(callId), exact: true });
    // the follow-up email is drafted from the summary (a draft the rep typed in stays as typed)
    void qc.invalidateQueries({ queryKey: ['call', callId, 'follow-up'] });
    // call lists and search show the summary in force; a synced call's CRM note is being updated
    void qc.invalidateQueries({ queryKey: ['calls'] });
    void qc.invalidateQueries({ queryKey: ['call', callId, 'crm'] });
  };
  const run = async (op: () => Promise<CallSummary>) => {
    setError(null);
    setConflict(null);
    setBusy(true);
    try {
      apply(await op());
      setDraft(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.code === 'summary_changed') setConflict(e.message);
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const reload = async () => {
    setConflict(null);
    setDraft(null);
    await q.refetch();
  };

  if (q.isPending) return <Card title="Summary"><Spinner label="Loading the summary" /></Card>;
  if (q.isError) return <Card title="Summary"><ErrorState error={q.error} onRetry={() => void q.refetch()} /></Card>;
  const s = q.data;
  const items = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

  const actions = draft === null && ended && (
    <div className="flex gap-1">
      {s.edited && (
        <Button variant="ghost" disabled={busy} onClick={() => void run(() => afterApi.revertSummary(callId, s.version))}>
          <Undo2 className="h-4 w-4" aria-hidden="true" /> Revert to generated
        </Button>
      )}
      <Button variant="ghost" onClick={() => setDraft({ text: s.text, items: s.action_items.join('\n') })}>
        <Pencil className="h-4 w-4" aria-hidden="true" /> Edit
      </Button>
    </div>
  );
  return (
    <Card title="Summary" actions={actions || undefined}>
      {draft === null ? (
        <>
          <p className="whitespace-pre-line text-sm leading-6 text-slate-800" data-testid="call-detail-summary">
            {s.text || 'No summary.'}
          </p>
          <ActionItems items={s.action_items} />
          {s.edited && (
            <p className="mt-3 flex items-center gap-2 text-xs text-slate-500" data-testid="summary-edited">
              <Badge tone="indigo">Edited</Badge>
              {s.edited_by_name ?? 'Someone'}
              {s.edited_at && `, ${formatDateTime(s.edited_at)}`}
            </p>
          )}
        </>
      ) : (
        <form
          className="flex flex-col gap-3 text-sm"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => afterApi.saveSummary(callId, { text: draft.text, action_items: items(draft.items), version: s.version }));
          }}
        >
          <label className="flex flex-col gap-1">
            <span className="font-medium text-slate-700">Summary</span>
            <textarea
              className="min-h-32 rounded-md border border-slate-300 p-2 leading-6"
              value={draft.text}
              maxLength={20000}
              onChange={(e) => setDraft({ ...draft, text: e.target.value })}
            />
          </label>
          <label className="flex flex-col gap-1">
            <span className="font-medium text-slate-700">Action items, one per line</span>
            <textarea
              className="min-h-20 rounded-md border border-slate-300 p-2 leading-6"
              value={draft.items}
              onChange={(e) => setDraft({ ...draft, items: e.target.value })}
            />
          </label>
          <div className="flex gap-2">
            <Button type="submit" variant="primary" disabled={busy}>Save</Button>
            <Button onClick={() => setDraft(null)} disabled={busy}>Cancel</Button>
          </div>
        </form>
      )}
      {conflict && (
        <div role="alert" className="mt-3 flex flex-wrap items-center gap-2 rounded-md bg-amber-50 p-2 text-sm text-amber-900">
          {conflict}
          <Button onClick={() => void reload()}>
            <RefreshCw className="h-4 w-4" aria-hidden="true" /> Reload
          </Button>
        </div>
      )}
      {error && <p role="alert" className="mt-3 text-sm text-rose-700">{error}</p>}
    </Card>
  );
}
