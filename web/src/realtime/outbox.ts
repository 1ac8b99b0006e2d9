/**
 * The call's outgoing audio, numbered by call-time frame: the last `keepFrames` frames are kept,
 * sent or not, so a resume can send again whatever the server lost, and nothing twice.
 */
interface Chunk {
  channels: Float32Array[];
  /** call-time frame of the chunk's first sample */
  start: number;
  frames: number;
}

export class AudioOutbox {
  private held: Chunk[] = [];
  /** frames of call audio captured so far, and handed to the socket */
  private captured = 0;
  private sent = 0;

  constructor(private keepFrames: number) {}

  /** A new call: nothing held; call time starts at `atFrame` (a resumed call's audio so far). */
  reset(keepFrames: number, atFrame = 0): void {
    this.keepFrames = keepFrames;
    this.held = [];
    this.captured = atFrame;
    this.sent = atFrame;
  }

  /** Keeps a copy of one chunk (the capture side may reuse its buffers). */
  push(channels: readonly Float32Array[]): void {
    const frames = channels[0]?.length ?? 0;
    if (frames === 0) return;
    this.held.push({ channels: channels.map((c) => c.slice()), start: this.captured, frames });
    this.captured += frames;
    for (let first = this.held[0]; first && this.held.length > 1 && this.captured - first.start > this.keepFrames; first = this.held[0]) {
      this.held.shift(); // the oldest audio goes, sent or not
    }
  }

  /** The server has the call's audio up to `frame`: send again from there. */
  sentUpTo(frame: number): void {
    this.sent = frame;
  }

  /** Call time moves on by `frames` (a call resumed on a fresh page: the server already has
   * that much audio); what was held meanwhile follows it. */
  shift(frames: number): void {
    for (const c of this.held) c.start += frames;
    this.captured += frames;
    this.sent += frames;
  }

  /** The held audio not sent yet (a chunk cut where the server's audio ends); marks it sent. */
  take(): Float32Array[][] {
    let i = this.held.length; // the first chunk that ends after `sent`, searched from the end
    for (let prev = this.held[i - 1]; prev && prev.start + prev.frames > this.sent; prev = this.held[i - 1]) i--;
    const out = this.held.slice(i).map((chunk) => {
      const skip = Math.max(0, this.sent - chunk.start);
      return skip > 0 ? chunk.channels.map((c) => c.subarray(skip)) : chunk.channels;
    });
    this.sent = this.captured;
    return out;
  }

  /** Call-time frame up to which audio has been handed to the socket. */
  sentFrames(): number {
    return this.sent;
  }

  /** Frames held and not yet handed to the socket. */
  unsentFrames(): number {
    const from = Math.max(this.sent, this.held[0]?.start ?? this.captured);
    return Math.max(0, this.captured - from);
  }
}
