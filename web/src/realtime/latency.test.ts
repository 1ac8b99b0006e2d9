import { describe, expect, it } from 'vitest';
import type { LatencyReport } from '../api/types';
import { FakeSocket } from '../test/fakeSocket';
import { LatencyReporter, MAX_BATCH, MAX_SECONDS } from './latency';
import { LiveSession } from './session';

function reporter(flushEveryMs = 5000) {
  let t = 0;
  const sent: LatencyReport[] = [];
  const r = new LatencyReporter((report) => sent.push(report), { now: () => t, flushEveryMs, keepSends: 5, batchPrefix: 'p' });
  return { r, sent, at: (ms: number) => (t = ms) };
}

describe('LatencyReporter', () => {
  it('times an event from the first send of the chunk holding its audio end', () => {
    const { r, sent, at } = reporter();
    at(100);
    r.sent(0.1);
    at(200);
    r.sent(0.2);
    at(300);
    r.sent(0.2); // the same audio sent again (a resume): the first send counts
    at(450);
    r.received('transcript', 0.15); // in the chunk sent at 200 ms
    r.received('insight', 0.2);
    r.flush();
    expect(sent).toEqual([{ client: 'web', batch: 'p-1', transcript: [0.25], insight: [0.25] }]);
  });

  it('skips audio this page did not send, and events without an audio end', () => {
    const { r, sent, at } = reporter();
    r.reset(10); // taken over at 10 s of call audio
    at(100);
    r.sent(10.1);
    at(500);
    r.received('transcript', 9.5); // sent by another page
    r.received('transcript', 11); // not sent yet
    r.received('insight', null);
    r.flush();
    expect(sent).toEqual([]);
    expect(r.pending()).toBe(0);
  });

  it('forgets sends older than its log, and clamps long waits', () => {
    const { r, sent, at } = reporter();
    for (let i = 1; i <= 7; i++) {
      at(i * 100);
      r.sent(i * 0.1);
    }
    at(1_000_000);
    r.received('transcript', 0.15); // its send was dropped from the 5-entry log
    r.received('transcript', 0.65);
    r.flush();
    expect(sent).toEqual([{ client: 'web', batch: 'p-1', transcript: [MAX_SECONDS], insight: [] }]);
  });

  it('sends in batches: every flushEveryMs, or at MAX_BATCH samples', () => {
    const { r, sent, at } = reporter(1000);
    at(10);
    r.sent(1);
    for (let i = 0; i < MAX_BATCH; i++) r.received('transcript', 0.5);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.transcript).toHaveLength(MAX_BATCH);
    r.received('insight', 0.5);
    expect(sent).toHaveLength(1); // held until the interval passed
    at(1500);
    r.received('insight', 0.5);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ client: 'web', batch: 'p-2', transcript: [], insight: [0, 1.49] }); // the first came at 10 ms
  });
});

describe('LiveSession latency reports', () => {
  it('reports live finals and insights once each, flushed before end-call', async () => {
    const socket = new FakeSocket();
    let t = 0;
    const session = new LiveSession(socket, { now: () => 1000, monotonic: () => t, endTimeoutMs: 50, latencyBatchPrefix: 'p' });
    socket.serverConnect();
    const started = session.start({ title: 't', sampleRate: 1000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c1' });
    await started;
    t = 100;
    session.sendAudio([new Float32Array(500)]); // call audio 0 .. 0.5 s
    t = 400;
    const final = { id: 'f1', text: 'hello', is_final: true, speaker: 'rep', start: 0, end: 0.4 };
    socket.fire('transcript', { ...final, is_final: false }); // interims are not timed
    socket.fire('transcript', final);
    socket.fire('transcript', final); // shown again: timed once
    socket.fire('insight', { id: 'i1', content: 'c', category: 'x', agent: 'coach', context_snippet: 's', created_at: '', kind: 'k', source: null, entity: null, confidence: null, provider: 'local', audio_end: 0.5 });
    expect(socket.sent('latency-report')).toHaveLength(0); // batched
    void session.end();
    const reports = socket.sent('latency-report');
    expect(reports.map((e) => e.args[0])).toEqual([{ client: 'web', batch: 'p-1', transcript: [0.3], insight: [0.3] }]);
    const order = socket.emitted.map((e) => e.event).filter((e) => e === 'latency-report' || e === 'end-call');
    expect(order).toEqual(['latency-report', 'end-call']);
    t = 900;
    socket.fire('transcript', { ...final, id: 'f2' }); // forced out by the end: not timed
    expect(socket.sent('latency-report')).toHaveLength(1);
  });
});

describe('LatencyReporter keeps batches until acked', () => {
  it('resends what was not acked, drops what was recorded or refused for good', () => {
    const { r, sent, at } = reporter(0);
    at(100);
    r.sent(1);
    r.received('transcript', 0.5); // p-1
    r.received('insight', 0.5); // p-2
    r.received('insight', 0.5); // p-3
    expect(sent.map((s) => s.batch)).toEqual(['p-1', 'p-2', 'p-3']);
    r.answered('p-1', { ok: true, accepted: 1 });
    r.answered('p-2', { error: { code: 'rate_limited', message: 'slow down' } }); // kept
    r.answered('p-3', undefined); // no answer (the socket dropped): kept
    expect(r.unackedBatches()).toBe(2);
    r.resend();
    expect(sent.slice(3)).toEqual([sent[1], sent[2]]); // the same batches, same ids: counted once
    r.answered('p-2', { ok: true, accepted: 0, duplicate: true });
    r.answered('p-3', { error: { code: 'bad_payload', message: 'no' } });
    expect(r.unackedBatches()).toBe(0);
  });
});

describe('LiveSession acks', () => {
  it('acks finals and insights once each (never interims) and resends unacked reports after a resume', async () => {
    const socket = new FakeSocket();
    let t = 0;
    const session = new LiveSession(socket, { now: () => 1000, monotonic: () => t, endTimeoutMs: 50, latencyReportEveryMs: 0, latencyBatchPrefix: 'p' });
    socket.serverConnect();
    const started = session.start({ title: 't', sampleRate: 1000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c1', features: ['received'] });
    await started;
    t = 100;
    session.sendAudio([new Float32Array(500)]);
    t = 400;
    const final = { id: 'f1', text: 'hello', is_final: true, speaker: 'rep', start: 0, end: 0.4 };
    socket.fire('transcript', { ...final, is_final: false });
    socket.fire('transcript', final);
    socket.fire('transcript', final);
    const tip = { id: 'i1', content: 'c', category: 'x', agent: 'coach', context_snippet: 's', created_at: '', kind: 'k', source: null, entity: null, confidence: null, provider: 'local', audio_end: 0.5 };
    socket.fire('insight', tip);
    socket.fire('insight', tip);
    socket.fire('insight', { ...tip, id: 'i0', audio_end: null }); // not from a block
    // the insight carries its block end: the call's gateway times it whoever emitted it
    expect(socket.sent('received').map((e) => e.args[0])).toEqual([
      { event: 'transcript', id: 'f1', held: 0 },
      { event: 'insight', id: 'i1', audio_end: 0.5, held: 0 },
      { event: 'insight', id: 'i0', held: 0 },
    ]);
    const reports = socket.sent('latency-report');
    expect(reports.map((e) => e.args[0].batch)).toEqual(['p-1', 'p-2']);
    reports[0]?.ack?.({ ok: true, accepted: 1 }); // p-2's answer is lost with the connection
    socket.serverDrop();
    socket.serverConnect();
    socket.last('start-call').ack?.({ call_id: 'c1', audio_seconds: 0.5 });
    await Promise.resolve();
    await Promise.resolve();
    const again = socket.sent('latency-report').slice(2);
    expect(again.map((e) => e.args[0])).toEqual([reports[1]?.args[0]]);
    void session.end();
    // once end-call went out nobody waits for them: neither acked nor reported
    socket.fire('transcript', { ...final, id: 'f9' });
    socket.fire('insight', { ...tip, id: 'i9' });
    expect(socket.sent('received')).toHaveLength(3);
  });

  it('acks only to a server whose start-call answer lists the received feature', async () => {
    const socket = new FakeSocket();
    let t = 0;
    const session = new LiveSession(socket, { now: () => 1000, monotonic: () => t, endTimeoutMs: 50 });
    socket.serverConnect();
    const started = session.start({ title: 't', sampleRate: 1000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c1' }); // an older gateway: no features
    await started;
    session.sendAudio([new Float32Array(500)]);
    const final = { id: 'f1', text: 'hello', is_final: true, speaker: 'rep', start: 0, end: 0.4 };
    socket.fire('transcript', final);
    expect(socket.sent('received')).toEqual([]);
    // the call resumes on an upgraded gateway: acks from then on
    socket.serverDrop();
    socket.serverConnect();
    socket.last('start-call').ack?.({ call_id: 'c1', audio_seconds: 0.5, features: ['received'] });
    await Promise.resolve();
    t = 30;
    socket.fire('transcript', { ...final, id: 'f2' });
    expect(socket.sent('received').map((e) => e.args[0])).toEqual([{ event: 'transcript', id: 'f2', held: 0 }]);
    // and not to an older one again
    socket.serverDrop();
    socket.serverConnect();
    socket.last('start-call').ack?.({ call_id: 'c1', audio_seconds: 0.5 });
    await Promise.resolve();
    socket.fire('transcript', { ...final, id: 'f3' });
    expect(socket.sent('received')).toHaveLength(1);
    void session.end();
  });
});
