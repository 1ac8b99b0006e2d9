/**
 * Ties audio capture to the live session: opens the devices, declares their real sample rate in
 * start-call, feeds chunks to the socket and the waveform, and releases everything at the end.
 */
import { CaptureError, startCapture, type CaptureErrorKind, type CaptureHandle } from '../audio/capture';
import { rms } from '../audio/pcm';
import { SampleRing } from '../audio/ring';
import type { CallEndedEvent } from '../api/types';
import type { LiveSession } from './session';

export interface CaptureState {
  status: 'off' | 'requesting' | 'on';
  error: { kind: CaptureErrorKind | 'server'; message: string } | null;
  customerAudio: boolean;
  sampleRate: number | null;
  channels: 1 | 2 | null;
  /** notice about a source that went away mid-call */
  notice: string | null;
}

const initialCapture: CaptureState = {
  status: 'off',
  error: null,
  customerAudio: false,
  sampleRate: null,
  channels: null,
  notice: null,
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

  constructor(
    readonly session: LiveSession,
    private readonly starter: CaptureStarter = startCapture,
  ) {
    // the server can end a call too (max length, another tab): stop the devices then
    this.unsubscribe = session.subscribe(() => {
      const phase = session.getState().phase;
      if ((phase === 'ended' || phase === 'idle') && this.capture) void this.release();
    });
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

  async start(title: string, customerAudio: boolean): Promise<boolean> {
    if (this.state.status !== 'off') return false;
    this.set({ status: 'requesting', error: null, notice: null, customerAudio });
    let handle: CaptureHandle;
    try {
      handle = await this.starter({
        customerAudio,
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
      return false;
    }
    this.capture = handle;
    this.ring.reset(handle.channels);
    this.set({ status: 'on', sampleRate: handle.sampleRate, channels: handle.channels });
    try {
      await this.session.start({ title, sampleRate: handle.sampleRate, channels: handle.channels, encoding: 'f32le' });
    } catch (e) {
      await this.release();
      this.set({ error: { kind: 'server', message: e instanceof Error ? e.message : String(e) } });
      return false;
    }
    return true;
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
    void this.release();
    this.listeners.clear();
  }
}
