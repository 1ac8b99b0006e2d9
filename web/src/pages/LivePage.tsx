import { CheckCircle2, Flag, ListChecks, Loader2, Mic, MicOff, MonitorSpeaker, PhoneOff, Play, RotateCcw, X } from 'lucide-react';
import { useEffect, useState, type FormEvent } from 'react';
import { InsightPanel } from '../components/Insights';
import { RecordedNotice } from '../components/RecordedNotice';
import { SentimentLine } from '../components/SentimentLine';
import { TalkGauge } from '../components/TalkGauge';
import { VoiceCheck } from '../components/VoiceCheck';
import { Transcript } from '../components/Transcript';
import { Button, Card, PageHeader } from '../components/ui';
import { LiveWaveform } from '../components/Waveform';
import { useCaptureState, useController, useLiveState } from '../lib/live';
import { momentLabel } from '../lib/format';
import { useReportPanelVisibility } from '../lib/insightsView';
import { Link } from 'react-router';
import { clock } from '../realtime/transcript';
import type { CallEndedEvent } from '../api/types';

function Elapsed({ since }: { since: number | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return <span className="tabular-nums">{since ? clock((now - since) / 1000) : '0:00'}</span>;
}

function defaultTitle(): string {
  return `Call ${new Date().toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`;
}

function CallSummary({ ended, onNew }: { ended: CallEndedEvent; onNew: () => void }) {
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <CheckCircle2 className="h-4 w-4 text-emerald-600" aria-hidden="true" /> Call ended
        </span>
      }
      actions={
        <div className="flex gap-2">
          <Link to={`/calls/${ended.call_id}`} className="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">
            Open in history
          </Link>
          <Button variant="primary" onClick={onNew} className="py-1.5">
            <RotateCcw className="h-4 w-4" aria-hidden="true" /> New call
          </Button>
        </div>
      }
      className="mb-6"
    >
      <div className="grid gap-6 lg:grid-cols-3" data-testid="call-summary">
        <div className="lg:col-span-1">
          <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">Summary</h3>
          <p className="text-sm leading-6 text-slate-800">{ended.summary || 'No summary was produced.'}</p>
        </div>
        <div>
          <h3 className="mb-1 flex items-center gap-1 text-xs font-semibold uppercase tracking-wide text-slate-500">
            <Flag className="h-3.5 w-3.5" aria-hidden="true" /> Key moments
          </h3>
          {ended.key_moments.length === 0 ? (
            <p className="text-sm text-slate-500">None.</p>
          ) : (
            <ul className="flex flex-col gap-1 text-sm">
              {ended.key_moments.map((m, i) => (
                <li key={i} className="flex gap-2">
                  <span className="w-10 shrink-0 tabular-nums text-slate-500">{clock(m.at)}</span>
                  <span>
                    <span className="font-medium text-slate-700">{momentLabel(m.kind)}</span> — {m.text}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          <h3 className="mb-1 flex items-center gap-1 text-xs font-semibold uppercase tracking-wide text-slate-500">
            <ListChecks className="h-3.5 w-3.5" aria-hidden="true" /> Action items
          </h3>
          {ended.action_items.length === 0 ? (
            <p className="text-sm text-slate-500">None.</p>
          ) : (
            <ul className="list-disc pl-5 text-sm text-slate-800">
              {ended.action_items.map((a, i) => (
                <li key={i}>{a}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </Card>
  );
}

export function LivePage() {
  const controller = useController();
  const live = useLiveState();
  const capture = useCaptureState();
  const [title, setTitle] = useState(defaultTitle);
  const [customerAudio, setCustomerAudio] = useState(false);
  const panelRef = useReportPanelVisibility<HTMLDivElement>();

  const inCall = live.phase === 'starting' || live.phase === 'live' || live.phase === 'ending';
  const busy = capture.status === 'requesting' || live.phase === 'starting';
  const canStart = !inCall && !busy && live.connection === 'connected';

  const start = (e: FormEvent) => {
    e.preventDefault();
    if (!canStart) return;
    void controller.start(title.trim() || defaultTitle(), customerAudio);
  };
  const newCall = () => {
    controller.session.reset();
    setTitle(defaultTitle());
  };

  return (
    <>
      <PageHeader
        title={inCall || live.phase === 'ended' ? live.title || 'Live call' : 'Live call'}
        subtitle={
          inCall ? (
            <span className="flex items-center gap-2">
              <span className="inline-flex items-center gap-1 font-medium text-rose-700">
                <span className="h-2 w-2 animate-pulse rounded-full bg-rose-500" aria-hidden="true" /> {live.phase === 'ending' ? 'Ending…' : 'Live'}
              </span>
              <Elapsed since={live.startedAt} />
              {capture.sampleRate && (
                <span className="text-slate-500">
                  · {capture.channels === 2 ? 'mic + customer audio' : 'mic'} · {(capture.sampleRate / 1000).toFixed(1)} kHz
                </span>
              )}
              {live.resumes > 0 && <span className="text-slate-500">· resumed after reconnect</span>}
            </span>
          ) : (
            'Wingman listens, transcribes and suggests what to say next.'
          )
        }
        actions={
          inCall && (
            <Button variant="danger" onClick={() => void controller.stop()} disabled={live.phase === 'ending'}>
              {live.phase === 'ending' ? <Loader2 className="h-4 w-4 animate-spin" aria-hidden="true" /> : <PhoneOff className="h-4 w-4" aria-hidden="true" />}
              {live.phase === 'ending' ? 'Summarizing…' : 'End call'}
            </Button>
          )
        }
      />

      {!inCall && live.phase !== 'ended' && !capture.offer && !customerAudio && <VoiceCheck />}

      {!inCall && live.phase !== 'ended' && !capture.offer && (
        <form onSubmit={start} className="mb-6 flex flex-wrap items-end gap-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <label className="min-w-0 flex-1 basis-64 text-sm font-medium text-slate-700">
            Call title
            <input
              value={title}
              onChange={(e) => setTitle(e.target.value)}
              maxLength={200}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500"
            />
          </label>
          <label className="flex items-center gap-2 py-2 text-sm text-slate-700">
            <input type="checkbox" checked={customerAudio} onChange={(e) => setCustomerAudio(e.target.checked)} className="h-4 w-4 rounded border-slate-300 accent-indigo-600" />
            <MonitorSpeaker className="h-4 w-4 text-slate-500" aria-hidden="true" />
            Also capture customer audio (share the call's tab)
          </label>
          <Button type="submit" variant="primary" disabled={!canStart}>
            {busy ? <Loader2 className="h-4 w-4 animate-spin" aria-hidden="true" /> : <Play className="h-4 w-4" aria-hidden="true" />}
            {busy ? 'Starting…' : 'Start call'}
          </Button>
          {live.connection !== 'connected' && <p className="w-full text-xs text-amber-700">Waiting for the server connection…</p>}
        </form>
      )}

      {capture.error && (
        <div role="alert" className="mb-6 flex items-start gap-3 rounded-lg border border-rose-200 bg-rose-50 p-4 text-sm text-rose-800" data-testid="capture-error">
          <MicOff className="mt-0.5 h-5 w-5 shrink-0" aria-hidden="true" />
          <div className="flex-1">
            <p className="font-semibold">
              {capture.error.kind === 'mic-denied' ? 'Microphone access denied' : capture.error.kind === 'server' ? 'The call could not start' : 'Audio capture problem'}
            </p>
            <p>{capture.error.message}</p>
            {capture.error.kind === 'mic-denied' && <p className="mt-1 text-rose-700">Click the camera/microphone icon in the address bar, choose “Allow”, then start the call again.</p>}
          </div>
          <button type="button" aria-label="Dismiss" onClick={() => controller.clearError()} className="rounded p-1 hover:bg-rose-100">
            <X className="h-4 w-4" aria-hidden="true" />
          </button>
        </div>
      )}
      <RecordedNotice live={inCall} />
      {capture.notice && inCall && (
        <p role="status" className="mb-4 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-800">
          {capture.notice}
        </p>
      )}
      {live.lastError && (
        <div role="alert" className="mb-4 flex items-center gap-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
          <span className="flex-1">
            {live.lastError.message} <span className="text-amber-700">({live.lastError.code})</span>
          </span>
          <button type="button" aria-label="Dismiss" onClick={() => controller.session.clearError()} className="rounded p-1 hover:bg-amber-100">
            <X className="h-4 w-4" aria-hidden="true" />
          </button>
        </div>
      )}
      {live.bufferedSeconds > 0 && inCall && (
        <p role="status" className="mb-4 text-sm text-amber-700">
          Holding {live.bufferedSeconds.toFixed(1)} s of audio until the connection is back…
        </p>
      )}

      {live.phase === 'ended' && live.ended && <CallSummary ended={live.ended} onNew={newCall} />}
      {live.phase === 'ended' && !live.ended && (
        <div className="mb-6 flex items-center justify-between rounded-lg border border-slate-200 bg-white p-4 text-sm">
          <span>The call has stopped.</span>
          <Button variant="primary" onClick={newCall}>
            <RotateCcw className="h-4 w-4" aria-hidden="true" /> New call
          </Button>
        </div>
      )}

      {live.handedOff && !inCall && (
        <p role="status" className="mb-4 rounded-md bg-sky-50 px-3 py-2 text-sm text-sky-900" data-testid="handed-off">
          This call moved to another tab or window; it goes on there.
        </p>
      )}

      {/* On a phone the newest tip and the transcript come first; on a laptop two columns. The
          columns are `contents` below lg so their cards can be ordered as one list. */}
      <div className="flex flex-col gap-4 lg:grid lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)] lg:gap-6">
        <div className="contents lg:flex lg:min-w-0 lg:flex-col lg:gap-6">
          <Card title="Transcript" className="order-2 min-h-0 min-w-0">
            <div className="h-[45vh] min-h-56 lg:h-[52vh] lg:min-h-64">
              <Transcript lines={live.transcript} follow label="Live transcript" emptyText={inCall ? 'Listening… the transcript appears as people speak.' : 'Start a call to see the transcript here.'} />
            </div>
          </Card>
          <Card
            className="order-3 min-w-0"
            title={
              <span className="flex items-center gap-2">
                <Mic className="h-4 w-4" aria-hidden="true" /> Audio
              </span>
            }
            actions={
              capture.channels === 2 ? (
                <span className="flex gap-3 text-xs">
                  <span className="text-indigo-700">■ You</span>
                  <span className="text-emerald-700">■ Customer</span>
                </span>
              ) : null
            }
          >
            <LiveWaveform ring={controller.ring} height={capture.channels === 2 ? 96 : 72} />
          </Card>
        </div>
        <div className="contents lg:flex lg:min-w-0 lg:flex-col lg:gap-6">
          <div ref={panelRef} className="order-1 min-w-0" role="region" aria-label="Live insights" data-testid="live-insights">
            <Card
              title={`Insights${live.insights.length ? ` (${live.insights.length})` : ''}`}
              actions={
                inCall && live.insights.length > 0 ? (
                  <span className="text-xs text-slate-600">
                    <kbd className="rounded border border-slate-300 px-1">L</kbd> / <kbd className="rounded border border-slate-300 px-1">D</kbd> rate the newest
                  </span>
                ) : null
              }
            >
              <div className="max-h-[38vh] overflow-y-auto pr-1 lg:max-h-[60vh]">
                <InsightPanel insights={live.insights} highlightNewest={inCall} onFeedback={(id, s) => void controller.session.feedback(id, s)} />
              </div>
            </Card>
          </div>
          <Card title="Talk ratio" className="order-4 min-w-0">
            <TalkGauge metrics={live.metrics} />
          </Card>
          <Card title="Customer sentiment" className="order-5 min-w-0">
            <SentimentLine points={live.sentiment} />
          </Card>
        </div>
      </div>
    </>
  );
}
