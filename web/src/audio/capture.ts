/**
 * Microphone (and optionally customer tab/system audio) capture through an AudioWorklet.
 *
 * Mono: mic -> worklet. Stereo: mic -> merger input 0, shared audio -> merger input 1,
 * merger -> worklet, so channel 0 is always the rep and channel 1 the customer. The worklet posts
 * ~100 ms float32 chunks per channel; the caller interleaves and sends them.
 *
 * The AudioContext runs at the device's native rate (often 44.1 or 48 kHz): never assume one,
 * read `sampleRate` from the handle and declare it in start-call.
 */
import workletUrl from './pcm-worklet.ts?worker&url';
import { PCM_PROCESSOR_NAME } from './pcm';

export type CaptureErrorKind = 'mic-denied' | 'mic-missing' | 'customer-audio' | 'unsupported' | 'needs-gesture' | 'other';

export class CaptureError extends Error {
  readonly kind: CaptureErrorKind;

  constructor(kind: CaptureErrorKind, message: string) {
    super(message);
    this.name = 'CaptureError';
    this.kind = kind;
  }
}

export interface CaptureOptions {
  /** also capture a shared tab/window/screen's audio as channel 1 (the customer) */
  customerAudio: boolean;
  chunkMs?: number;
  /** run the AudioContext at this rate (a resumed call keeps the rate it started with) */
  sampleRate?: number;
  /** called with each chunk, one Float32Array per channel */
  onChunk: (channels: Float32Array[]) => void;
  /** a source went away (mic unplugged, the user stopped sharing) */
  onSourceEnded?: (source: 'mic' | 'customer') => void;
}

export interface CaptureHandle {
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  readonly customerLabel: string | null;
  /** posts what is left in the worklet's buffer, then releases devices and the AudioContext */
  stop(): Promise<void>;
}

function mediaError(e: unknown, source: 'mic' | 'customer'): CaptureError {
  const name = e instanceof DOMException ? e.name : '';
  if (source === 'customer') {
    if (name === 'NotAllowedError' || name === 'AbortError') {
      return new CaptureError('customer-audio', 'Sharing customer audio was cancelled.');
    }
    return new CaptureError('customer-audio', `Customer audio is unavailable: ${String(e)}`);
  }
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return new CaptureError(
      'mic-denied',
      'Microphone access was denied. Allow the microphone for this site in the browser and try again.',
    );
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'NotReadableError') {
    return new CaptureError('mic-missing', 'No usable microphone was found (or another app holds it).');
  }
  return new CaptureError('other', `Could not open the microphone: ${String(e)}`);
}

export async function startCapture(opts: CaptureOptions): Promise<CaptureHandle> {
  const md = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
  if (!md?.getUserMedia || typeof AudioWorkletNode === 'undefined') {
    throw new CaptureError('unsupported', 'This browser cannot capture audio (needs getUserMedia and AudioWorklet, over https or localhost).');
  }
  const streams: MediaStream[] = [];
  const stopStreams = () => streams.forEach((s) => s.getTracks().forEach((t) => t.stop()));

  let mic: MediaStream;
  try {
    mic = await md.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      video: false,
    });
  } catch (e) {
    throw mediaError(e, 'mic');
  }
  streams.push(mic);

  let shared: MediaStream | null = null;
  if (opts.customerAudio) {
    if (!md.getDisplayMedia) {
      stopStreams();
      throw new CaptureError('customer-audio', 'This browser cannot share tab or system audio.');
    }
    try {
      // Chromium only offers audio alongside a video surface; the video track is simply unused.
      shared = await md.getDisplayMedia({
        video: true,
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (e) {
      stopStreams();
      throw mediaError(e, 'customer');
    }
    streams.push(shared);
    if (shared.getAudioTracks().length === 0) {
      stopStreams();
      throw new CaptureError(
        'customer-audio',
        'The shared tab or screen has no audio. Share again and tick "Share tab audio" (or "Share system audio").',
      );
    }
  }

  const channels: 1 | 2 = shared ? 2 : 1;
  let ctx: AudioContext;
  try {
    ctx = new AudioContext({ latencyHint: 'interactive', ...(opts.sampleRate ? { sampleRate: opts.sampleRate } : {}) });
    await ctx.audioWorklet.addModule(workletUrl);
    // without a click on the page (a resume right after a reload) the browser may hold audio
    if (ctx.state === 'suspended') await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 1500))]);
  } catch (e) {
    stopStreams();
    throw new CaptureError('unsupported', `Audio processing could not start: ${String(e)}`);
  }
  if (ctx.state !== 'running') {
    stopStreams();
    await ctx.close().catch(() => undefined);
    throw new CaptureError('needs-gesture', 'The browser waits for a click before it records: press Resume.');
  }

  const node = new AudioWorkletNode(ctx, PCM_PROCESSOR_NAME, {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: channels,
    channelCountMode: 'explicit',
    // mono: a stereo mic is averaged down; stereo: keep merger channels apart
    channelInterpretation: channels === 1 ? 'speakers' : 'discrete',
    processorOptions: { channels, chunkMs: opts.chunkMs ?? 100 },
  });
  let flushed: (() => void) | null = null;
  node.port.onmessage = (e: MessageEvent<{ type: string; channels?: Float32Array[] }>) => {
    if (e.data.type === 'chunk' && e.data.channels) opts.onChunk(e.data.channels);
    else if (e.data.type === 'flushed') flushed?.();
  };

  const micSource = ctx.createMediaStreamSource(mic);
  const nodes: AudioNode[] = [micSource, node];
  if (shared) {
    const merger = ctx.createChannelMerger(2);
    const sharedSource = ctx.createMediaStreamSource(shared);
    micSource.connect(merger, 0, 0);
    sharedSource.connect(merger, 0, 1);
    merger.connect(node);
    nodes.push(merger, sharedSource);
  } else {
    micSource.connect(node);
  }
  // The worklet must be pulled by the graph to run; route it to the speakers at zero gain.
  const mute = ctx.createGain();
  mute.gain.value = 0;
  node.connect(mute);
  mute.connect(ctx.destination);
  nodes.push(mute);

  mic.getAudioTracks().forEach((t) => t.addEventListener('ended', () => opts.onSourceEnded?.('mic')));
  shared?.getAudioTracks().forEach((t) => t.addEventListener('ended', () => opts.onSourceEnded?.('customer')));

  let stopped = false;
  return {
    sampleRate: ctx.sampleRate,
    channels,
    customerLabel: shared?.getAudioTracks()[0]?.label ?? null,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.race([
        new Promise<void>((resolve) => {
          flushed = resolve;
          node.port.postMessage({ type: 'flush' });
        }),
        new Promise<void>((resolve) => setTimeout(resolve, 300)),
      ]);
      node.port.postMessage({ type: 'stop' });
      node.port.onmessage = null;
      nodes.forEach((n) => n.disconnect());
      stopStreams();
      await ctx.close().catch(() => undefined);
    },
  };
}
