/**
 * One rep's Socket.IO session and the live call on it: connection state, start/resume/end,
 * audio sending, and the transcript/insight/metrics state the live page renders.
 *
 * Framework-free (React reads it through useSyncExternalStore) and written against a small
 * `SocketLike` interface, so tests drive it with a loopback socket.
 */
import type { SentimentEvent } from '../api/after';
import type {
  CallEndedEvent,
  EndCallAck,
  Encoding,
  FeedbackStatus,
  InsightEvent,
  LatencyReportAnswer,
  MetricsEvent,
  ProviderStatusEvent,
  ReceivedMessage,
  SocketError,
  StartCallAck,
  StartCallRequest,
  TranscriptEvent,
} from '../api/types';
import { encodeChunk } from '../audio/pcm';
import { mergeInsights, upsertInsight, type LiveInsight } from './insights';
import { LatencyReporter } from './latency';
import { AudioOutbox } from './outbox';
import { CALL_BLANK, initialState, type LiveState, type RunningCallInfo, type SocketLike } from './state';
import { applyTranscript, type TranscriptLine } from './transcript';

export { initialState } from './state';
export type { Connection, LiveState, Phase, RunningCallInfo, SocketLike } from './state';

export interface SessionOptions {
  ackTimeoutMs?: number;
  endTimeoutMs?: number;
  /** audio kept to re-send after resuming (held while disconnected, or sent but maybe lost in
   * flight); older audio is dropped */
  maxBufferedSeconds?: number;
  now?: () => number;
  /** the monotonic clock latency reports are measured on (default performance.now) */
  monotonic?: () => number;
  /** send `latency-report`s at most this often (ms) */
  latencyReportEveryMs?: number;
  /** latency-report batch ids' prefix (default: random per page) */
  latencyBatchPrefix?: string;
}

/** start-call's payload for a call in `format` (`callId`: resume that call). */
function startRequest(title: string, format: NonNullable<LiveState['format']>, callId?: string): StartCallRequest {
  const req: StartCallRequest = { title, sample_rate: format.sampleRate, channels: format.channels, encoding: format.encoding };
  return callId === undefined ? req : { ...req, call_id: callId };
}

export class LiveSession {
  private state: LiveState = initialState;
  private listeners = new Set<() => void>();
  /** the last `maxBufferedSeconds` of the call's audio, sent or not */
  private readonly outbox = new AudioOutbox(0);
  /** true once the server acknowledged start-call on the current connection */
  private acked = false;
  private endWaiters: ((e: CallEndedEvent | null) => void)[] = [];
  private readonly opts: Required<Omit<SessionOptions, 'monotonic' | 'latencyReportEveryMs' | 'latencyBatchPrefix'>>;
  /** what this page measured, sent in batches (`latency-report`; realtime/latency.ts) */
  private readonly latency: LatencyReporter;
  private readonly monotonic: () => number;
  /** the optional events the server of the current connection takes (start-call's `features`):
   * `received` goes only to a server that lists it (an older one answers unknown_event) */
  private features: ReadonlySet<string> = new Set();
  private readonly unbind: (() => void)[] = [];

  constructor(
    private readonly socket: SocketLike,
    options: SessionOptions = {},
  ) {
    this.opts = {
      ackTimeoutMs: options.ackTimeoutMs ?? 15000,
      endTimeoutMs: options.endTimeoutMs ?? 60000,
      maxBufferedSeconds: options.maxBufferedSeconds ?? 30,
      now: options.now ?? (() => Date.now()),
    };
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.latency = new LatencyReporter((report) => {
      // kept until answered: one sent while disconnected goes again after the resume
      if (!this.socket.connected || !this.acked) return;
      const batch = report.batch ?? '';
      this.socket.emit('latency-report', report, (ack?: LatencyReportAnswer) => this.latency.answered(batch, ack));
    }, { now: options.monotonic, flushEveryMs: options.latencyReportEveryMs, batchPrefix: options.latencyBatchPrefix });
    this.bind('connect', this.onConnect);
    this.bind('disconnect', this.onDisconnect);
    this.bind('connect_error', this.onConnectError);
    this.bind('transcript', (e: TranscriptEvent) => {
      if (!this.inCall()) return;
      const at = this.monotonic();
      // a live final, the first time: once end-call went out, finals are the call's last words
      // forced out (the server does not time those either)
      const first = e.is_final && e.text.trim() && !this.state.transcript.some((l) => l.id === e.id && l.is_final);
      if (first && this.state.phase === 'live') {
        this.ack({ event: 'transcript', id: e.id }, at); // the server times it on its clock
        this.latency.received('transcript', e.end);
      }
      this.set({ transcript: applyTranscript(this.state.transcript, e) });
    });
    this.bind('insight', (e: InsightEvent) => {
      if (!this.inCall()) return;
      const at = this.monotonic();
      const first = !this.state.insights.some((i) => i.id === e.id);
      if (first && this.state.phase === 'live') {
        // the call's gateway times it by the block end it answers, whichever gateway emitted it
        this.ack(typeof e.audio_end === 'number' ? { event: 'insight', id: e.id, audio_end: e.audio_end } : { event: 'insight', id: e.id }, at);
        this.latency.received('insight', e.audio_end);
      }
      this.set({ insights: upsertInsight(this.state.insights, e) });
    });
    this.bind('metrics', (e: MetricsEvent) => {
      if (this.inCall()) this.set({ metrics: e });
    });
    this.bind('sentiment', (e: SentimentEvent) => {
      if (!this.inCall()) return;
      // a resumed call may send a segment again: one point per segment, in call order
      const rest = this.state.sentiment.filter((p) => p.id !== e.id);
      this.set({ sentiment: [...rest, e].sort((a, b) => a.start - b.start) });
    });
    this.bind('provider-status', (e: ProviderStatusEvent) => {
      this.set({ providers: { ...this.state.providers, [e.part]: e } });
    });
    this.bind('error', (e: SocketError) => this.set({ lastError: e }));
    this.bind('call-ended', (e: CallEndedEvent) => this.onCallEnded(e));
    if (socket.connected) this.onConnect();
  }

  // ------------------------------------------------------------ store plumbing

  getState = (): LiveState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private bind(event: string, fn: (...args: any[]) => void): void {
    this.socket.on(event, fn);
    this.unbind.push(() => this.socket.off(event, fn));
  }

  private inCall(): boolean {
    return this.state.phase === 'starting' || this.state.phase === 'live' || this.state.phase === 'ending';
  }

  dispose(): void {
    this.unbind.forEach((u) => u());
    this.listeners.clear();
    this.endWaiters.forEach((w) => w(null));
    this.endWaiters = [];
  }

  /** `received`: this page got a final or an insight (finals and insights only, once each,
   * while live: once end-call went out nobody waits for them, as for latency reports) at `at`
   * (monotonic ms); `held` tells the server how long after that the ack went out. Only to a
   * server whose start-call answer lists the feature. */
  private ack(msg: Omit<ReceivedMessage, 'held'>, at: number): void {
    if (!this.socket.connected || !this.features.has('received')) return;
    const held = Math.max(0, Math.round(this.monotonic() - at)) / 1000;
    this.socket.emit('received', { ...msg, held } satisfies ReceivedMessage);
  }

  // ------------------------------------------------------------ connection

  private onConnect = (): void => {
    const wasConnected = this.state.everConnected;
    this.acked = false;
    this.features = new Set();
    this.set({ connection: 'connected', connectionMessage: null, everConnected: true });
    const { callId, phase, format, title } = this.state;
    if (wasConnected && callId && format && (phase === 'live' || phase === 'ending')) {
      // resume the call this client was streaming before the connection dropped
      void this.emitStart(startRequest(title, format, callId)).then((ack) => {
        if ('call_id' in ack) {
          this.acked = true;
          this.features = new Set(ack.features ?? []);
          // interims from before the drop will never be finalized under their old ids
          this.set({ resumes: this.state.resumes + 1, lastError: null, transcript: this.state.transcript.filter((l) => l.is_final) });
          // go on from where the server has the audio: what was lost in flight when the
          // connection (or the server node) died is sent again, nothing twice
          if (typeof ack.audio_seconds === 'number') this.outbox.sentUpTo(Math.round(ack.audio_seconds * format.sampleRate));
          this.flushPending();
          this.latency.resend(); // reports not acked before the drop
          if (this.state.phase === 'ending') this.emitEnd();
        } else {
          this.set({ lastError: { code: ack.error.code, message: `Could not resume the call: ${ack.error.message}` } });
        }
      });
    }
  };

  private onDisconnect = (reason: string): void => {
    this.acked = false;
    this.features = new Set();
    if (reason === 'io client disconnect') return;
    if (reason === 'io server disconnect') {
      // the server closed it on purpose (signed out, token expired) and the client does not
      // reconnect by itself: say why; the call stays resumable after signing in again
      const why = this.state.lastError?.code === 'unauthorized' ? this.state.lastError.message : 'Closed by the server';
      this.set({ connection: 'rejected', connectionMessage: why });
      return;
    }
    this.set({ connection: 'reconnecting', connectionMessage: null });
  };

  private onConnectError = (err: Error): void => {
    // `active` is false when the server refused the connection (e.g. a bad token); the client
    // then stops retrying.
    if (!this.socket.active) {
      this.set({ connection: 'rejected', connectionMessage: err.message || 'Connection refused' });
    } else {
      this.set({ connection: this.state.everConnected ? 'reconnecting' : 'connecting', connectionMessage: err.message || null });
    }
  };

  // ------------------------------------------------------------ call lifecycle

  private emitStart(req: StartCallRequest): Promise<StartCallAck> {
    return new Promise((resolve) => {
      this.socket.timeout(this.opts.ackTimeoutMs).emit('start-call', req, (err: Error | null, ack?: StartCallAck) => {
        if (err) resolve({ error: { code: 'timeout', message: 'The server did not answer start-call in time.' } });
        else if (!ack || typeof ack !== 'object') resolve({ error: { code: 'bad_ack', message: 'Unexpected answer to start-call.' } });
        else resolve(ack);
      });
    });
  }

  /** Starts a call; resolves with the call id, or rejects with the server's error. */
  async start(req: { title: string; sampleRate: number; channels: 1 | 2; encoding?: Encoding }): Promise<string> {
    if (this.inCall()) throw new Error('A call is already in progress.');
    const format = { sampleRate: req.sampleRate, channels: req.channels, encoding: req.encoding ?? 'f32le' } as const;
    this.outbox.reset(this.keepFrames(format.sampleRate));
    this.latency.reset();
    this.acked = false;
    this.features = new Set();
    this.set({ ...CALL_BLANK, phase: 'starting', callId: null, title: req.title, format });
    if (!this.socket.connected) {
      this.set({ phase: 'idle' });
      throw new Error('Not connected to the Wingman server.');
    }
    const ack = await this.emitStart(startRequest(req.title, format));
    if ('error' in ack) {
      this.set({ phase: 'idle', lastError: ack.error });
      throw new Error(ack.error.message);
    }
    this.acked = true;
    this.features = new Set(ack.features ?? []);
    this.set({ phase: 'live', callId: ack.call_id, startedAt: this.opts.now() });
    this.flushPending();
    return ack.call_id;
  }

  /**
   * Takes over a call still running on the server that this page did not start (the page was
   * reloaded, or the call runs in another tab). Resolves with the seconds of audio the server
   * has; audio sent from here on continues the call's time from there.
   */
  async resume(call: RunningCallInfo): Promise<number> {
    if (this.inCall()) throw new Error('A call is already in progress.');
    const format = { sampleRate: call.sampleRate, channels: call.channels, encoding: call.encoding } as const;
    this.outbox.reset(this.keepFrames(format.sampleRate));
    this.acked = false;
    this.features = new Set();
    this.set({ ...CALL_BLANK, phase: 'starting', callId: call.callId, title: call.title, format });
    if (!this.socket.connected) {
      this.set({ phase: 'idle', callId: null });
      throw new Error('Not connected to the Wingman server.');
    }
    const ack = await this.emitStart(startRequest(call.title, format, call.callId));
    if ('error' in ack) {
      this.set({ phase: 'idle', callId: null, lastError: ack.error });
      throw new Error(ack.error.message);
    }
    const seconds = typeof ack.audio_seconds === 'number' ? ack.audio_seconds : 0;
    // audio captured while waiting for the ack goes after what the server has
    this.outbox.shift(Math.round(seconds * format.sampleRate));
    this.latency.reset(seconds); // the audio before was sent by another page: not timed here
    this.acked = true;
    this.features = new Set(ack.features ?? []);
    this.set({ phase: 'live', startedAt: this.opts.now() - seconds * 1000, resumes: 1 });
    this.flushPending();
    return seconds;
  }

  /** Adds what the server saved of this call before the page took it over (its finals and
   * tips); lines and tips already shown live are kept once, by id. */
  seed(callId: string, saved: { transcript: readonly TranscriptLine[]; insights: readonly LiveInsight[] }): void {
    if (this.state.callId !== callId || !this.inCall()) return;
    let transcript = this.state.transcript;
    for (const line of saved.transcript) transcript = applyTranscript(transcript, { ...line, is_final: true });
    this.set({ transcript, insights: mergeInsights(this.state.insights, saved.insights) });
  }

  /** Ends a call still running on the server that this page is not streaming (offered after a
   * reload or from another tab); resolves with its call-ended payload. */
  endRunning(call: RunningCallInfo): Promise<CallEndedEvent | null> {
    if (this.inCall()) return this.end();
    const format = { sampleRate: call.sampleRate, channels: call.channels, encoding: call.encoding } as const;
    this.outbox.reset(0);
    this.set({ ...CALL_BLANK, phase: 'live', callId: call.callId, title: call.title, format });
    // end-call names the call: the server ends it whichever socket streamed it
    this.acked = this.socket.connected;
    return this.end();
  }

  /** Another tab took this call over: stop sending here, without ending it. */
  handOff(): void {
    if (!this.inCall()) return;
    this.acked = false;
    this.features = new Set();
    this.set({ ...CALL_BLANK, phase: 'idle', callId: null, title: '', format: null, handedOff: true });
  }

  /** Sends (or, while the socket is down or the call not yet acknowledged, holds) one chunk.
   * Sent audio is kept too (up to `maxBufferedSeconds`), for a resume that needs it again. */
  sendAudio(channels: readonly Float32Array[]): void {
    const { format, phase } = this.state;
    if (!format || !(phase === 'starting' || phase === 'live' || phase === 'ending')) return;
    this.outbox.push(channels);
    if (this.socket.connected && this.acked) {
      this.flushPending();
      return;
    }
    this.setBuffered();
  }

  private keepFrames(sampleRate: number): number {
    return Math.round(this.opts.maxBufferedSeconds * sampleRate);
  }

  /** Seconds of held audio not handed to the socket yet. */
  private setBuffered(): void {
    const seconds = this.outbox.unsentFrames() / (this.state.format?.sampleRate ?? 1);
    if (seconds !== this.state.bufferedSeconds) this.set({ bufferedSeconds: seconds });
  }

  /** Sends the held audio the server does not have yet. */
  private flushPending(): void {
    const encoding = this.state.format?.encoding ?? 'f32le';
    const chunks = this.outbox.take();
    for (const channels of chunks) this.socket.emit('audio-chunk', encodeChunk(channels, encoding));
    if (chunks.length > 0) this.latency.sent(this.outbox.sentFrames() / (this.state.format?.sampleRate ?? 1));
    this.setBuffered();
  }

  /** Ends the call and waits for `call-ended` (null if it never came). */
  end(): Promise<CallEndedEvent | null> {
    const { phase } = this.state;
    if (phase === 'ended' && this.state.ended) return Promise.resolve(this.state.ended);
    if (phase === 'idle') return Promise.resolve(null);
    const waiter = new Promise<CallEndedEvent | null>((resolve) => {
      this.endWaiters.push(resolve);
    });
    if (phase === 'starting' && !this.state.callId) {
      // nothing to end on the server yet
      this.set({ phase: 'idle' });
      this.resolveEnd(null);
      return waiter;
    }
    this.latency.flush(); // while the call is live: the server takes reports from streaming sockets
    this.set({ phase: 'ending' });
    if (this.socket.connected && this.acked) {
      this.flushPending();
      this.emitEnd();
    }
    const timer = setTimeout(() => {
      if (this.state.phase === 'ending') {
        this.set({ phase: 'ended', lastError: { code: 'timeout', message: 'The server did not confirm the end of the call; it may still be saving.' } });
        this.resolveEnd(null);
      }
    }, this.opts.endTimeoutMs);
    return waiter.finally(() => clearTimeout(timer));
  }

  /** end-call answers with the call-ended payload (also broadcast to the call's room). */
  private emitEnd(): void {
    const callId = this.state.callId;
    this.socket.timeout(this.opts.endTimeoutMs).emit('end-call', { call_id: callId }, (err: Error | null, ack?: EndCallAck) => {
      if (err || !ack || this.state.phase !== 'ending') return; // the end timer reports it
      if ('error' in ack) {
        this.set({ phase: 'ended', lastError: ack.error });
        this.resolveEnd(null);
      } else {
        this.onCallEnded(ack);
      }
    });
  }

  private onCallEnded(e: CallEndedEvent): void {
    if (this.state.callId && e.call_id && e.call_id !== this.state.callId) return;
    if (this.state.phase === 'ended' && this.state.ended) return; // ack and broadcast both came
    this.set({
      phase: 'ended',
      ended: { call_id: e.call_id, summary: e.summary ?? '', key_moments: e.key_moments ?? [], action_items: e.action_items ?? [] },
    });
    this.resolveEnd(this.state.ended);
  }

  private resolveEnd(e: CallEndedEvent | null): void {
    const waiters = this.endWaiters;
    this.endWaiters = [];
    waiters.forEach((w) => w(e));
  }

  /** Back to a blank live page after a call ended. */
  reset(): void {
    if (this.inCall()) return;
    this.set({ ...CALL_BLANK, phase: 'idle', callId: null, title: '', format: null });
  }

  /** Degraded parts known before any event (GET /api/providers); live events win. */
  seedProviders(parts: readonly ProviderStatusEvent[]): void {
    const providers = { ...this.state.providers };
    for (const p of parts) if (!(p.part in providers)) providers[p.part] = p;
    this.set({ providers });
  }

  clearError(): void {
    this.set({ lastError: null });
  }

  /** Records like/dislike for a live insight (optimistic; reverted if the server says no). */
  feedback(id: string, status: FeedbackStatus): Promise<boolean> {
    const before = this.state.insights.find((i) => i.id === id)?.feedback ?? 'none';
    this.setFeedback(id, status);
    return new Promise((resolve) => {
      this.socket.timeout(this.opts.ackTimeoutMs).emit('feedback', { id, status }, (err: Error | null, ack?: { ok?: boolean; error?: SocketError }) => {
        if (err || !ack?.ok) {
          this.setFeedback(id, before);
          this.set({ lastError: ack?.error ?? { code: 'feedback', message: 'Feedback was not saved; try again.' } });
          resolve(false);
        } else {
          resolve(true);
        }
      });
    });
  }

  private setFeedback(id: string, status: FeedbackStatus): void {
    this.set({ insights: this.state.insights.map((i) => (i.id === id ? { ...i, feedback: status } : i)) });
  }
}
