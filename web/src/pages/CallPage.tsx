import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ArrowLeft, Brain, Flag } from 'lucide-react';
import { lazy, Suspense, useState } from 'react';
import { Link } from 'react-router';
import { RecordingPlayer } from '../after/RecordingPlayer';
import { SummaryEditor } from '../after/SummaryEditor';
import { api } from '../api/client';
import type { AgentRun, CallDetail, FeedbackStatus, KeyMoment, TranscriptSegment } from '../api/types';
import { CoachingComments } from '../components/CoachingComments';
import { InsightPanel, type InsightView } from '../components/Insights';
import { Transcript } from '../components/Transcript';
import { Badge, Card, EmptyState, ErrorState, Spinner } from '../components/ui';
import { durationBetween, formatDateTime, formatDuration, momentLabel } from '../lib/format';
import { keys } from '../lib/query';
import { agentLabel } from '../realtime/insights';
import { clock } from '../realtime/transcript';

// sentiment chart, CRM sync and follow-up draft, with recharts, load after the call itself
const CallAfter = lazy(() => import('../after/CallAfter'));

/** The transcript line being spoken at `at` seconds (or the nearest one). */
export function segmentAt(segments: readonly TranscriptSegment[], at: number): TranscriptSegment | null {
  if (segments.length === 0) return null;
  let best: TranscriptSegment | null = null;
  for (const s of segments) {
    if (s.start <= at + 0.25) best = s;
  }
  if (best && at <= best.end + 0.25) return best;
  let nearest = segments[0] as TranscriptSegment;
  for (const s of segments) {
    const d = Math.min(Math.abs(s.start - at), Math.abs(s.end - at));
    if (d < Math.min(Math.abs(nearest.start - at), Math.abs(nearest.end - at))) nearest = s;
  }
  return nearest;
}

const MOMENT_TONES: Record<string, string> = {
  objection: 'bg-amber-500',
  competitor: 'bg-sky-500',
  question: 'bg-violet-500',
  closing: 'bg-emerald-500',
  next_step: 'bg-emerald-500',
};

function momentTone(kind: string): string {
  const key = Object.keys(MOMENT_TONES).find((k) => kind.toLowerCase().startsWith(k));
  return key ? (MOMENT_TONES[key] as string) : 'bg-indigo-500';
}

function Timeline({ moments, duration, onJump }: { moments: KeyMoment[]; duration: number; onJump: (m: KeyMoment) => void }) {
  if (moments.length === 0) return <p className="text-sm text-slate-500">No key moments were found in this call.</p>;
  const span = Math.max(duration, ...moments.map((m) => m.at), 1);
  return (
    <div>
      <div className="relative mx-2 mb-4 mt-2 h-2 rounded-full bg-slate-100" aria-hidden="true">
        {moments.map((m, i) => (
          <span
            key={i}
            title={`${clock(m.at)} ${momentLabel(m.kind)}: ${m.text}`}
            className={`absolute top-1/2 h-3.5 w-3.5 -translate-x-1/2 -translate-y-1/2 rounded-full border-2 border-white ${momentTone(m.kind)}`}
            style={{ left: `${(m.at / span) * 100}%` }}
          />
        ))}
      </div>
      <ol className="flex flex-col gap-1" aria-label="Key moments">
        {moments.map((m, i) => (
          <li key={i}>
            <button
              type="button"
              onClick={() => onJump(m)}
              className="flex w-full items-start gap-2 rounded-md px-2 py-1.5 text-left text-sm hover:bg-slate-50"
              aria-label={`Jump to ${clock(m.at)}: ${momentLabel(m.kind)}, ${m.text}`}
            >
              <span className={`mt-1.5 h-2 w-2 shrink-0 rounded-full ${momentTone(m.kind)}`} aria-hidden="true" />
              <span className="w-10 shrink-0 tabular-nums text-slate-500">{clock(m.at)}</span>
              <span>
                <span className="font-medium text-slate-700">{momentLabel(m.kind)}</span> <span className="text-slate-600">— {m.text}</span>
              </span>
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}

function AgentRuns({ callId }: { callId: string }) {
  const runs = useQuery({ queryKey: keys.agentRuns(callId), queryFn: ({ signal }) => api.agentRuns(callId, signal) });
  const [agent, setAgent] = useState<string>('all');
  const [onlyActed, setOnlyActed] = useState(false);
  if (runs.error) return <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />;
  const all = runs.data;
  if (!all) return <Spinner label="Loading agent reasoning" />;
  const agents = [...new Set(all.map((r) => r.agent))];
  const shown = all.filter((r) => (agent === 'all' || r.agent === agent) && (!onlyActed || saidSomething(r)));
  return (
    <div>
      <div className="mb-3 flex flex-wrap items-center gap-3 text-sm">
        <label className="flex items-center gap-2">
          Agent
          <select value={agent} onChange={(e) => setAgent(e.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm">
            <option value="all">All ({all.length})</option>
            {agents.map((a) => (
              <option key={a} value={a}>
                {agentLabel(a)} ({all.filter((r) => r.agent === a).length})
              </option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={onlyActed} onChange={(e) => setOnlyActed(e.target.checked)} className="h-4 w-4 accent-indigo-600" />
          Only runs that said something or failed
        </label>
      </div>
      {shown.length === 0 ? (
        <p className="text-sm text-slate-500">No agent runs recorded.</p>
      ) : (
        <ul className="flex flex-col gap-2" data-testid="agent-runs">
          {shown.map((r) => (
            <AgentRunItem key={r.id} run={r} />
          ))}
        </ul>
      )}
    </div>
  );
}

/** A run that showed the rep something or failed (a skip such as "the rep is speaking" did neither). */
function saidSomething(run: AgentRun): boolean {
  return (run.insight_ids?.length ?? 0) > 0 || !!run.error;
}

function AgentRunItem({ run }: { run: AgentRun }) {
  return (
    <li>
      <details className="rounded-md border border-slate-200 bg-white">
        <summary className="flex cursor-pointer list-none flex-wrap items-center gap-2 px-3 py-2 text-sm">
          <Badge tone="indigo">{agentLabel(run.agent)}</Badge>
          <span className="min-w-0 flex-1 truncate text-slate-700">{run.output || 'nothing to say'}</span>
          {(run.insight_ids?.length ?? 0) > 0 && <Badge tone="emerald">{run.insight_ids?.length} tip{(run.insight_ids?.length ?? 0) > 1 ? 's' : ''}</Badge>}
          {run.error && <Badge tone="rose">error</Badge>}
          <span className="text-xs text-slate-500">
            {run.provider} · {Math.round(run.latency_ms)} ms
          </span>
        </summary>
        <dl className="grid gap-2 border-t border-slate-100 px-3 py-2 text-xs">
          <div>
            <dt className="font-semibold text-slate-500">Input</dt>
            <dd className="whitespace-pre-wrap text-slate-700">{run.input}</dd>
          </div>
          <div>
            <dt className="font-semibold text-slate-500">Rule or prompt</dt>
            <dd className="max-h-48 overflow-auto whitespace-pre-wrap font-mono text-slate-700">{run.rule_or_prompt}</dd>
          </div>
          <div>
            <dt className="font-semibold text-slate-500">Output</dt>
            <dd className="whitespace-pre-wrap text-slate-700">{run.output || '—'}</dd>
          </div>
          {run.error && (
            <div>
              <dt className="font-semibold text-rose-600">Error</dt>
              <dd className="whitespace-pre-wrap text-rose-700">{run.error}</dd>
            </div>
          )}
        </dl>
      </details>
    </li>
  );
}

function recommendationViews(call: CallDetail): InsightView[] {
  // the API lists them oldest first; InsightPanel shows the newest on top
  return call.recommendations.map((r) => ({
    id: r.id,
    content: r.content,
    category: r.category,
    agent: r.agent,
    context_snippet: r.context_snippet,
    source: r.source,
    entity: r.entity,
    feedback: r.feedback_status ?? 'none',
  }));
}

export function CallPage({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const call = useQuery({ queryKey: keys.call(id), queryFn: ({ signal }) => api.getCall(id, signal) });
  const [highlight, setHighlight] = useState<string | null>(null);
  const [feedbackError, setFeedbackError] = useState<string | null>(null);

  if (call.error) {
    return (
      <>
        <BackLink />
        <ErrorState error={call.error} onRetry={() => void call.refetch()} />
      </>
    );
  }
  if (!call.data) return <Spinner label="Loading call" />;
  const c = call.data;
  const transcriptEnd = c.transcript.reduce((m, s) => Math.max(m, s.end), 0);
  const duration = Math.max(durationBetween(c.start_time, c.end_time) ?? 0, transcriptEnd);

  const jumpTo = (segmentId: string) => {
    setHighlight(null);
    requestAnimationFrame(() => {
      setHighlight(segmentId);
      const el = document.getElementById(`seg-${segmentId}`);
      el?.scrollIntoView({ behavior: 'smooth', block: 'center' });
      el?.focus({ preventScroll: true });
    });
  };

  const jump = (m: KeyMoment) => {
    const seg = segmentAt(c.transcript, m.at);
    if (seg) jumpTo(seg.id);
  };

  const setFeedback = async (recId: string, status: FeedbackStatus) => {
    const before = c.recommendations.find((r) => r.id === recId)?.feedback_status ?? 'none';
    const apply = (s: FeedbackStatus) =>
      queryClient.setQueryData<CallDetail>(keys.call(id), (prev) => prev && { ...prev, recommendations: prev.recommendations.map((r) => (r.id === recId ? { ...r, feedback_status: s } : r)) });
    apply(status);
    setFeedbackError(null);
    try {
      await api.setFeedback(recId, status);
    } catch (e) {
      apply(before);
      setFeedbackError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <>
      <BackLink />
      <div className="mb-6">
        <h1 className="text-2xl font-semibold tracking-tight">{c.title || 'Untitled call'}</h1>
        <p className="mt-1 text-sm text-slate-500">
          {formatDateTime(c.start_time)} · {formatDuration(duration || null)}
          {!c.end_time && ' · not finished'}
        </p>
      </div>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <div className="flex min-w-0 flex-col gap-6">
          <SummaryEditor callId={c.id} ended={!!c.end_time} />
          <Card
            title={
              <span className="flex items-center gap-1.5">
                <Flag className="h-4 w-4" aria-hidden="true" /> Key moments
              </span>
            }
          >
            <Timeline moments={c.key_moments} duration={duration} onJump={jump} />
          </Card>
          <CoachingComments callId={c.id} moments={c.key_moments} onJump={(at) => jump({ kind: 'comment', text: '', at })} />
          <RecordingPlayer callId={c.id} segments={c.transcript} />
          <Card title="Transcript">
            <div className="max-h-[70vh] overflow-y-auto">
              <Transcript lines={c.transcript} highlightId={highlight} emptyText="No transcript was saved for this call." />
            </div>
          </Card>
        </div>
        <div className="flex min-w-0 flex-col gap-6">
          <Suspense fallback={<Spinner label="Loading sentiment and CRM" />}>
            <CallAfter callId={c.id} ended={!!c.end_time} onJump={jumpTo} />
          </Suspense>
          <Card title={`Recommendations (${c.recommendations.length})`}>
            {feedbackError && (
              <p role="alert" className="mb-2 text-sm text-rose-700">
                Feedback not saved: {feedbackError}
              </p>
            )}
            <InsightPanel insights={recommendationViews(c)} onFeedback={(rid, s) => void setFeedback(rid, s)} emptyText="No recommendations during this call." />
          </Card>
          <Card
            title={
              <span className="flex items-center gap-1.5">
                <Brain className="h-4 w-4" aria-hidden="true" /> Agents’ reasoning
              </span>
            }
          >
            <AgentRuns callId={c.id} />
          </Card>
        </div>
      </div>
    </>
  );
}

function BackLink() {
  return (
    <Link to="/calls" className="mb-4 inline-flex items-center gap-1 text-sm text-slate-500 hover:text-slate-900">
      <ArrowLeft className="h-4 w-4" aria-hidden="true" /> Call history
    </Link>
  );
}

export function NotFoundPage() {
  return (
    <EmptyState title="Page not found">
      <Link to="/" className="text-indigo-600 underline">
        Back to the dashboard
      </Link>
    </EmptyState>
  );
}
