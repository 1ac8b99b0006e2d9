/**
 * Client-measured latency, reported to the server (`latency-report`, notes/CONTRACTS.md).
 *
 * What is measured, on this page's own monotonic clock at both ends (no clock sync with the
 * server): from handing to the socket the audio chunk that holds an event's audio end (a
 * final's `end`, an insight's `audio_end`, in seconds of call audio) to receiving that event.
 * Audio this page did not send (a call taken over after a reload, audio older than the log)
 * gives no sample. A resumed call's audio sent again keeps its first send time: the rep waited
 * from then. Waits over MAX_SECONDS are reported as MAX_SECONDS (counted, in the top bucket).
 *
 * Each batch carries an id and is kept until the server acks it (`acked`); `resend` sends the
 * kept ones again (after a reconnect / resume): the server counts a batch id once per call.
 */
import type { LatencyReport, LatencyReportAnswer } from '../api/types';

export const MAX_SECONDS = 120;
/** the server refuses more per list (messages.py MAX_SAMPLES_PER_REPORT) */
export const MAX_BATCH = 50;
/** batches kept for a resend at most (oldest dropped first: a long outage loses the oldest) */
export const MAX_UNACKED = 20;

export interface LatencyReporterOptions {
  /** send at most this often (ms); the server allows one report per 2 s sustained */
  flushEveryMs?: number;
  /** send-log entries kept (100 ms chunks: 1200 = two minutes) */
  keepSends?: number;
  now?: () => number;
  /** batch ids are `<prefix>-<n>` (default: random per page) */
  batchPrefix?: string;
}

export class LatencyReporter {
  /** (call seconds of audio handed to the socket so far, when), increasing */
  private sends: { upTo: number; at: number }[] = [];
  /** audio up to here was sent before the log's first entry: when is no longer known */
  private forgottenUpTo = -1;
  private transcript: number[] = [];
  private insight: number[] = [];
  private lastFlush: number;
  private readonly flushEveryMs: number;
  private readonly keepSends: number;
  private readonly now: () => number;
  /** batches sent and not yet acked, by id, oldest first */
  private readonly unacked = new Map<string, LatencyReport>();
  private readonly batchPrefix: string;
  private batches = 0;

  constructor(
    private readonly emit: (report: LatencyReport) => void,
    options: LatencyReporterOptions = {},
  ) {
    this.flushEveryMs = options.flushEveryMs ?? 5000;
    this.keepSends = options.keepSends ?? 1200;
    this.now = options.now ?? (() => performance.now());
    this.lastFlush = this.now();
    this.batchPrefix = options.batchPrefix ?? Math.random().toString(36).slice(2, 10);
  }

  /** A new call, or one taken over at `fromSeconds` of call audio (sent by another page). */
  reset(fromSeconds = 0): void {
    this.sends = [];
    this.forgottenUpTo = fromSeconds;
    this.transcript = [];
    this.insight = [];
    this.unacked.clear(); // another call's batches: its server would refuse them
  }

  /** Audio up to `upTo` seconds of call time was just handed to the socket. */
  sent(upTo: number): void {
    const last = this.sends[this.sends.length - 1];
    if (last && upTo <= last.upTo) return; // sent again after a resume: the first send counts
    this.sends.push({ upTo, at: this.now() });
    if (this.sends.length > this.keepSends) {
      const dropped = this.sends.splice(0, this.sends.length - this.keepSends);
      this.forgottenUpTo = dropped[dropped.length - 1]?.upTo ?? this.forgottenUpTo;
    }
  }

  /** A final transcript or an insight whose audio ends at `audioEnd` arrived. */
  received(kind: 'transcript' | 'insight', audioEnd: number | null | undefined): void {
    if (typeof audioEnd !== 'number' || !Number.isFinite(audioEnd)) return;
    if (audioEnd <= this.forgottenUpTo) return;
    // the first send that reached audioEnd; none: this page has not sent that audio
    const send = this.sends.find((s) => s.upTo >= audioEnd);
    if (!send) return;
    const waited = Math.min(MAX_SECONDS, Math.max(0, (this.now() - send.at) / 1000));
    const into = kind === 'transcript' ? this.transcript : this.insight;
    into.push(Math.round(waited * 1000) / 1000);
    if (into.length >= MAX_BATCH || this.now() - this.lastFlush >= this.flushEveryMs) this.flush();
  }

  /** Sends what is pending (nothing when there is nothing). */
  flush(): void {
    this.lastFlush = this.now();
    if (this.transcript.length === 0 && this.insight.length === 0) return;
    const batch = `${this.batchPrefix}-${++this.batches}`;
    const report: LatencyReport = { client: 'web', batch, transcript: this.transcript.slice(0, MAX_BATCH), insight: this.insight.slice(0, MAX_BATCH) };
    this.transcript = this.transcript.slice(MAX_BATCH);
    this.insight = this.insight.slice(MAX_BATCH);
    this.unacked.set(batch, report);
    while (this.unacked.size > MAX_UNACKED) this.unacked.delete(this.unacked.keys().next().value as string);
    this.emit(report);
  }

  /** The server's answer to the batch `batch`: recorded (or already recorded), or refused for
   * good, it is dropped; refused for now (rate limited, no call on that node yet) it is kept. */
  answered(batch: string, ack: LatencyReportAnswer | undefined): void {
    const code = ack && 'error' in ack ? ack.error.code : null;
    if (ack && (code === null || code === 'bad_payload')) this.unacked.delete(batch);
  }

  /** Sends every batch not yet acked again, oldest first (after a reconnect / resume). */
  resend(): void {
    for (const report of [...this.unacked.values()]) this.emit(report);
  }

  /** Samples waiting to be sent. */
  pending(): number {
    return this.transcript.length + this.insight.length;
  }

  /** Batches sent and not acked yet. */
  unackedBatches(): number {
    return this.unacked.size;
  }
}
