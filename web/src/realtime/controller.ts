/**
 * Ties audio capture to the live session: opens the devices, declares their real sample rate in
 * start-call, feeds chunks to the socket and the waveform, and releases everything at the end.
 */
import { CaptureError, startCapture, type CaptureErrorKind, type CaptureHandle } from '../audio/capture';
import { rms } from '../audio/pcm';
import { SampleRing } from '../audio/ring';
import type { CallEndedEvent } from '../api/types';
import type { RunningCallStore } from './running';
import type { LiveSession } from './session';
import type { RunningCallInfo } from './state';

export interface CaptureState {
  status: 'off' | 'requesting' | 'on';
  error: { kind: CaptureErrorKind | 'server'; message: string } | null;
  customerAudio: boolean;
  sampleRate: number | null;
  channels: 1 | 2 | null;
  /** notice about a source that went away mid-call */
  notice: string | null;
  /** a call still running on the server that this page can resume or end */
  offer: RunningCallInfo | null;
}

const initialCapture: CaptureState = {
  status: 'off',
  error: null,
  customerAudio: false,
  sampleRate: null,
  channels: null,
  notice: null,
  offer: null,
};

export type CaptureStarter = typeof startCapture;

export class CallController {
  /** ~3 s of audio at 44.1 kHz, for the waveform */
  readonly ring = new SampleRing(131072);
  private capture: CaptureHandle | null = null;
  private state: CaptureState = initialCapture;
  private listeners = new Set<() => void>();
  private level = 0;
  private unsubscribe: () => void;

  private unTaken: () => void;

  constructor(
    readonly session: LiveSession,
    private readonly starter: CaptureStarter = startCapture,
    /** remembers the streamed call for a reload or another tab (none in tests that don't care) */
    private readonly running: RunningCallStore | null = null,
  ) {
    // the server can end a call too (max length, another tab): stop the devices then
    this.unsubscribe = session.subscribe(() => {
      const { phase, ended } = session.getState();
      if ((phase === 'ended' || phase === 'idle') && this.capture) void this.release();
      if (phase === 'ended' && ended) this.running?.clear(ended.call_id);
    });
    this.unTaken =
      running?.onTaken((callId) => {
        if (session.getState().callId !== callId) return;
        session.handOff();
        void this.release();
      }) ?? (() => undefined);
  }

  getState = (): CaptureState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Smoothed input level 0..1 of channel 0, for the mic meter. */
  getLevel = (): number => this.level;

  private set(patch: Partial<CaptureState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Opens the devices and streams their chunks to the session; null (and the error in the
   * state) when they could not be opened. */
  private async open(customerAudio: boolean, sampleRate?: number): Promise<CaptureHandle | null> {
    this.set({ status: 'requesting', error: null, notice: null, customerAudio });
    let handle: CaptureHandle;
    try {
      handle = await this.starter({
        customerAudio,
        sampleRate,
        onChunk: (channels) => {
          this.ring.push(channels);
          const c0 = channels[0];
          if (c0) this.level = this.level * 0.6 + rms(c0) * 0.4;
          this.session.sendAudio(channels);
        },
        onSourceEnded: (source) => {
          this.set({
            notice:
              source === 'mic'
                ? 'The microphone stopped. End the call or check the device.'
                : 'Customer audio sharing stopped; only your microphone is being heard.',
          });
        },
      });
    } catch (e) {
      const err = e instanceof CaptureError ? e : new CaptureError('other', String(e));
      this.set({ status: 'off', error: { kind: err.kind, message: err.message } });
      return null;
    }
    this.capture = handle;
    this.ring.reset(handle.channels);
    this.set({ status: 'on', sampleRate: handle.sampleRate, channels: handle.channels });
    return handle;
  }

  private async failed(e: unknown): Promise<false> {
    await this.release();
    this.set({ error: { kind: 'server', message: e instanceof Error ? e.message : String(e) } });
    return false;
  }

  async start(title: string, customerAudio: boolean): Promise<boolean> {
    if (this.state.status !== 'off') return false;
    this.set({ offer: null });
    const handle = await this.open(customerAudio);
    if (!handle) return false;
    const format = { sampleRate: handle.sampleRate, channels: handle.channels, encoding: 'f32le' } as const;
    try {
      const callId = await this.session.start({ title, ...format });
      this.running?.claim({ callId, title, ...format });
    } catch (e) {
      return this.failed(e);
    }
    return true;
  }

  /** Offers (or withdraws) a call still running on the server: the page shows resume / end. */
  offer(call: RunningCallInfo | null): void {
    this.set({ offer: call });
  }

  /** Takes over a call still running on the server (after a reload, or from another tab):
   * the devices open at the call's own rate and channels, and its audio goes on from where the
   * server has it. False (the offer kept, the reason in `error`) when that failed. */
  async resume(call: RunningCallInfo): Promise<boolean> {
    if (this.state.status !== 'off') return false;
    this.set({ offer: null });
    const handle = await this.open(call.channels === 2, call.sampleRate);
    if (!handle) {
      this.set({ offer: call });
      return false;
    }
    if (handle.sampleRate !== call.sampleRate || handle.channels !== call.channels) {
      await this.release();
      this.set({ offer: call, error: { kind: 'unsupported', message: `This browser cannot record at the call's ${call.sampleRate} Hz, ${call.channels} channel(s) now.` } });
      return false;
    }
    try {
      await this.session.resume(call);
      this.running?.claim(call);
    } catch (e) {
      const gone = this.session.getState().lastError?.code === 'call_ended' || this.session.getState().lastError?.code === 'not_found';
      if (gone) this.running?.clear(call.callId);
      else this.set({ offer: call });
      return this.failed(e);
    }
    return true;
  }

  /** Ends the offered call without streaming it (its summary then shows as usual). */
  endOffered(): Promise<CallEndedEvent | null> {
    const call = this.state.offer;
    if (!call) return Promise.resolve(null);
    this.set({ offer: null });
    return this.session.endRunning(call);
  }

  /** Stops capture (sending what is buffered) and ends the call. */
  async stop(): Promise<CallEndedEvent | null> {
    if (this.capture) {
      const handle = this.capture;
      this.capture = null;
      await handle.stop();
      this.set({ status: 'off' });
    }
    return this.session.end();
  }

  private async release(): Promise<void> {
    const handle = this.capture;
    this.capture = null;
    if (handle) await handle.stop();
    this.level = 0;
    this.set({ status: 'off' });
  }

  clearError(): void {
    this.set({ error: null });
  }

  dispose(): void {
    this.unsubscribe();
    this.unTaken();
    void this.release();
    this.listeners.clear();
  }
}
