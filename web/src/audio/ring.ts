/**
 * The last few seconds of captured audio, per channel, for the live waveform. Written from the
 * worklet's chunks, read by the canvas; a version number lets React subscribe cheaply.
 */
export class SampleRing {
  private data: Float32Array[];
  private version = 0;
  private listeners = new Set<() => void>();

  constructor(
    readonly capacity: number,
    channels = 1,
  ) {
    this.data = Array.from({ length: channels }, () => new Float32Array(capacity));
  }

  get channels(): number {
    return this.data.length;
  }

  /** Clears and, if needed, changes the channel count (a new call). */
  reset(channels: number): void {
    this.data = Array.from({ length: channels }, () => new Float32Array(this.capacity));
    this.bump();
  }

  push(chunk: readonly Float32Array[]): void {
    this.data.forEach((buf, c) => {
      const src = chunk[c] ?? new Float32Array((chunk[0] ?? new Float32Array(0)).length);
      if (src.length >= this.capacity) {
        buf.set(src.subarray(src.length - this.capacity));
      } else {
        buf.copyWithin(0, src.length);
        buf.set(src, this.capacity - src.length);
      }
    });
    this.bump();
  }

  /** The buffers themselves (oldest sample first); do not mutate. */
  snapshot(): Float32Array[] {
    return this.data;
  }

  getVersion = (): number => this.version;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private bump(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}
