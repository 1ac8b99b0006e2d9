/**
 * The call page's after-the-call panels: the customer's sentiment over the call (recharts),
 * CRM sync per connected CRM (status, "Sync now", pick a record when none matched), and the
 * follow-up email draft (editable, copyable). Loaded lazily with the chart library.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Copy, RefreshCw, Send } from 'lucide-react';
import { useState } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { afterApi, type CallSync, type CrmProvider, type CrmStatus, type CrmTarget, type SentimentPoint } from '../api/after';
import { Badge, Button, Card, ErrorState, Spinner } from '../components/ui';
import { clock } from '../realtime/transcript';

const TONES: Record<CallSync['status'], 'emerald' | 'amber' | 'rose' | 'slate' | 'sky'> = {
  done: 'emerald',
  pending: 'sky',
  running: 'sky',
  no_match: 'amber',
  needs_reconnect: 'rose',
  failed: 'rose',
};

export function SentimentChart({ points, onJump }: { points: SentimentPoint[]; onJump: (segmentId: string) => void }) {
  if (points.length === 0) {
    return (
      <p data-testid="chart-sentiment" data-empty="true" className="text-sm text-slate-500">
        No customer speech to score in this call.
      </p>
    );
  }
  const data = points.map((p) => ({ at: Math.round(p.start), score: p.score, id: p.segment_id, text: p.text }));
  return (
    <div data-testid="chart-sentiment" data-empty="false" className="h-48">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart
          data={data}
          onClick={(state) => {
            const i = typeof state?.activeTooltipIndex === 'number' ? state.activeTooltipIndex : Number(state?.activeTooltipIndex);
            const hit = Number.isFinite(i) ? data[i] : undefined;
            if (hit) onJump(hit.id);
          }}
        >
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="at" tickFormatter={(s: number) => clock(s)} fontSize={12} />
          <YAxis domain={[-1, 1]} ticks={[-1, 0, 1]} fontSize={12} />
          <ReferenceLine y={0} stroke="#94a3b8" />
          <Tooltip labelFormatter={(s) => clock(Number(s))} formatter={(v, _n, item) => [`${Number(v).toFixed(2)} — ${String(item?.payload?.text ?? '')}`, 'Sentiment']} />
          <Line type="monotone" dataKey="score" stroke="#6366f1" strokeWidth={2} dot={{ r: 3 }} activeDot={{ r: 5 }} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

function Picker({ callId, provider, onDone }: { callId: string; provider: CrmProvider; onDone: () => void }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState<CrmTarget[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = async () => {
    setError(null);
    try {
      setFound(await afterApi.searchCrm(provider, q));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const pick = async (t: CrmTarget) => {
    await afterApi.syncCall(callId, provider, { target: t });
    onDone();
  };
  return (
    <div className="mt-2 flex flex-col gap-2">
      <form
        className="flex gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <input aria-label={`Search ${provider}`} value={q} onChange={(e) => setQ(e.target.value)} placeholder="Contact, company or deal" className="min-w-0 flex-1 rounded-md border border-slate-300 px-2 py-1 text-sm" />
        <Button type="submit" disabled={q.trim().length < 2}>
          Search
        </Button>
      </form>
      {error && <p className="text-sm text-rose-700">{error}</p>}
      {found && (
        <ul className="flex flex-col gap-1 text-sm">
          {found.length === 0 && <li className="text-slate-500">Nothing found.</li>}
          {found.map((t) => (
            <li key={`${t.kind}-${t.id}`}>
              <button type="button" className="rounded px-2 py-1 text-left hover:bg-slate-50" onClick={() => void pick(t)}>
                <Badge>{t.kind}</Badge> {t.name || t.id}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function CrmSyncPanel({ callId, ended }: { callId: string; ended: boolean }) {
  const queryClient = useQueryClient();
  const crms = useQuery({ queryKey: ['crm'], queryFn: ({ signal }) => afterApi.crms(signal) });
  const syncs = useQuery({
    queryKey: ['call', callId, 'crm'],
    queryFn: ({ signal }) => afterApi.callSyncs(callId, signal),
    // keep watching while a sync is on its way
    refetchInterval: (q) => ((q.state.data ?? []).some((s) => s.status === 'pending' || s.status === 'running') ? 1500 : false),
  });
  const [error, setError] = useState<string | null>(null);
  if (crms.error) return <ErrorState error={crms.error} onRetry={() => void crms.refetch()} />;
  if (!crms.data || !syncs.data) return <Spinner label="Loading CRM status" />;
  const usable = crms.data.filter((c: CrmStatus) => c.configured && c.status !== 'not_connected');
  if (usable.length === 0) {
    return (
      <p className="text-sm text-slate-500">
        No CRM connected. <a href="/settings" className="text-indigo-600 underline">Connect HubSpot or Salesforce</a>.
      </p>
    );
  }
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['call', callId, 'crm'] });
  const syncNow = async (provider: CrmProvider) => {
    setError(null);
    try {
      queryClient.setQueryData(['call', callId, 'crm'], await afterApi.syncCall(callId, provider));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <ul className="flex flex-col gap-3" data-testid="crm-sync">
      {error && <li role="alert" className="text-sm text-rose-700">{error}</li>}
      {usable.map((crm) => {
        const job = syncs.data.find((s) => s.provider === crm.provider);
        return (
          <li key={crm.provider} className="text-sm">
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-medium">{crm.label}</span>
              {job ? <Badge tone={TONES[job.status]}>{job.message}</Badge> : <Badge>not synced</Badge>}
              <Button className="ml-auto" disabled={!ended || job?.status === 'running'} onClick={() => void syncNow(crm.provider)}>
                <Send className="h-3.5 w-3.5" aria-hidden="true" /> Sync now
              </Button>
            </div>
            {job?.status === 'needs_reconnect' && (
              <a href="/settings" className="mt-1 inline-block text-indigo-600 underline">
                Reconnect {crm.label}
              </a>
            )}
            {job?.status === 'no_match' && <Picker callId={callId} provider={crm.provider} onDone={refresh} />}
          </li>
        );
      })}
    </ul>
  );
}

export function FollowUpDraft({ callId }: { callId: string }) {
  const draft = useQuery({ queryKey: ['call', callId, 'follow-up'], queryFn: ({ signal }) => afterApi.followUp(callId, signal) });
  const [text, setText] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  if (draft.error) return <ErrorState error={draft.error} onRetry={() => void draft.refetch()} />;
  if (!draft.data) return <Spinner label="Drafting the follow-up" />;
  const d = draft.data;
  const body = text ?? d.body;
  const copy = async () => {
    const full = `${d.to ? `To: ${d.to}\n` : ''}Subject: ${d.subject}\n\n${body}`;
    try {
      await navigator.clipboard.writeText(full);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="flex flex-col gap-2 text-sm">
      <p>
        <span className="text-slate-500">To:</span> {d.to ?? 'the customer'} · <span className="text-slate-500">Subject:</span> {d.subject}
      </p>
      <textarea aria-label="Follow-up email" value={body} onChange={(e) => setText(e.target.value)} rows={10} className="w-full rounded-md border border-slate-300 p-2 font-mono text-xs" />
      <div className="flex gap-2">
        <Button onClick={() => void copy()}>
          <Copy className="h-3.5 w-3.5" aria-hidden="true" /> {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button variant="ghost" onClick={() => setText(null)}>
          <RefreshCw className="h-3.5 w-3.5" aria-hidden="true" /> Reset
        </Button>
      </div>
    </div>
  );
}

export default function CallAfter({ callId, ended, onJump }: { callId: string; ended: boolean; onJump: (segmentId: string) => void }) {
  const sentiment = useQuery({ queryKey: ['call', callId, 'sentiment'], queryFn: ({ signal }) => afterApi.sentiment(callId, signal) });
  return (
    <>
      <Card title="Customer sentiment">
        {sentiment.error ? <ErrorState error={sentiment.error} onRetry={() => void sentiment.refetch()} /> : !sentiment.data ? <Spinner label="Loading sentiment" /> : <SentimentChart points={sentiment.data} onJump={onJump} />}
      </Card>
      <Card title="CRM">
        <CrmSyncPanel callId={callId} ended={ended} />
      </Card>
      <Card title="Follow-up email">
        <FollowUpDraft callId={callId} />
      </Card>
    </>
  );
}
