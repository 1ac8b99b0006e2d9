/**
 * PCM helpers shared by the AudioWorklet (chunking) and the main thread (interleaving and
 * encoding for `audio-chunk`). Pure functions, no Web Audio types, so they run under Vitest.
 *
 * Wire format (CONTRACTS.md): little-endian PCM, float32 by default, interleaved when stereo with
 * channel 0 = the rep's microphone and channel 1 = the customer (tab/system audio).
 */
import type { Encoding } from '../api/types';

/** The name the AudioWorklet processor registers under. */
export const PCM_PROCESSOR_NAME = 'wingman-pcm-capture';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Frames of `channels[0].length` samples each, interleaved: L0 R0 L1 R1 ... */
export function interleave(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) return new Float32Array(0);
  const first = channels[0] as Float32Array;
  if (channels.length === 1) return first;
  const n = channels.length;
  // a short channel is padded with silence rather than truncating the others
  const frames = Math.max(...channels.map((c) => c.length));
  const out = new Float32Array(frames * n);
  for (let c = 0; c < n; c++) {
    const src = channels[c] as Float32Array;
    for (let i = 0; i < src.length; i++) out[i * n + c] = src[i] as number;
  }
  return out;
}

/** The inverse of interleave (used by tests and by the waveform for stereo buffers). */
export function deinterleave(samples: Float32Array, channels: number): Float32Array[] {
  const frames = Math.floor(samples.length / channels);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) (out[c] as Float32Array)[i] = samples[i * channels + c] as number;
  }
  return out;
}

/** Replaces NaN/Infinity with silence: the gateway rejects frames that contain them. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** float32 little-endian bytes; non-finite samples become 0. */
export function encodeF32LE(samples: Float32Array): ArrayBuffer {
  const out = new ArrayBuffer(samples.length * 4);
  if (LITTLE_ENDIAN) {
    const view = new Float32Array(out);
    for (let i = 0; i < samples.length; i++) view[i] = finite(samples[i] as number);
  } else {
    const view = new DataView(out);
    for (let i = 0; i < samples.length; i++) view.setFloat32(i * 4, finite(samples[i] as number), true);
  }
  return out;
}

/** int16 little-endian bytes, clipped to [-1, 1]: -1 -> -32768, 1 -> 32767. */
export function encodeS16LE(samples: Float32Array): ArrayBuffer {
  const out = new ArrayBuffer(samples.length * 2);
  const view = new DataView(out);
  for (let i = 0; i < samples.length; i++) {
    const x = Math.max(-1, Math.min(1, finite(samples[i] as number)));
    view.setInt16(i * 2, x < 0 ? Math.round(x * 32768) : Math.round(x * 32767), true);
  }
  return out;
}

/** One `audio-chunk` payload from per-channel float32 buffers. */
export function encodeChunk(channels: readonly Float32Array[], encoding: Encoding = 'f32le'): ArrayBuffer {
  const samples = interleave(channels);
  return encoding === 's16le' ? encodeS16LE(samples) : encodeF32LE(samples);
}

/** Decodes a payload back into samples (tests, and a sanity check on what we send). */
export function decodeChunk(buffer: ArrayBuffer, encoding: Encoding = 'f32le'): Float32Array {
  const view = new DataView(buffer);
  if (encoding === 's16le') {
    const out = new Float32Array(buffer.byteLength / 2);
    for (let i = 0; i < out.length; i++) {
      const v = view.getInt16(i * 2, true);
      out[i] = v < 0 ? v / 32768 : v / 32767;
    }
    return out;
  }
  const out = new Float32Array(buffer.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Frames in one chunk of `ms` milliseconds at `sampleRate` (at least one render quantum). */
export function chunkFrames(sampleRate: number, ms = 100): number {
  return Math.max(128, Math.round((sampleRate * ms) / 1000));
}

/**
 * Collects the AudioWorklet's 128-frame render quanta into fixed-size chunks per channel.
 * `push` returns the completed chunks (zero, one, or more), each a fresh set of buffers that can
 * be transferred to the main thread.
 */
export class FrameAccumulator {
  private buffers: Float32Array[];
  private filled = 0;

  constructor(
    readonly channels: number,
    readonly frames: number,
  ) {
    if (channels < 1 || frames < 1) throw new RangeError('channels and frames must be positive');
    this.buffers = this.fresh();
  }

  private fresh(): Float32Array[] {
    return Array.from({ length: this.channels }, () => new Float32Array(this.frames));
  }

  /**
   * Appends one block. `input[c]` is channel c; a missing channel is written as silence and a
   * mono input feeding a stereo accumulator is not copied to channel 1 (the customer stays silent).
   */
  push(input: readonly Float32Array[]): Float32Array[][] {
    const done: Float32Array[][] = [];
    const length = input.length > 0 ? Math.max(...input.map((c) => c.length)) : 0;
    let offset = 0;
    while (offset < length) {
      const take = Math.min(length - offset, this.frames - this.filled);
      for (let c = 0; c < this.channels; c++) {
        const src = input[c];
        const dst = this.buffers[c] as Float32Array;
        if (src) dst.set(src.subarray(offset, offset + take), this.filled);
        else dst.fill(0, this.filled, this.filled + take);
      }
      this.filled += take;
      offset += take;
      if (this.filled === this.frames) {
        done.push(this.buffers);
        this.buffers = this.fresh();
        this.filled = 0;
      }
    }
    return done;
  }

  /** What is buffered but not yet a full chunk (sent when the call ends). */
  flush(): Float32Array[] | null {
    if (this.filled === 0) return null;
    const out = this.buffers.map((b) => b.slice(0, this.filled));
    this.buffers = this.fresh();
    this.filled = 0;
    return out;
  }
}

/** Root-mean-square level of a buffer, 0..1 (for the "mic is live" meter). */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = finite(samples[i] as number);
    sum += x * x;
  }
  return Math.sqrt(sum / samples.length);
}
