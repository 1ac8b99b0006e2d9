import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../audio/pcm';
import { FakeSocket } from '../test/fakeSocket';
import { LiveSession } from './session';

function connected() {
  const socket = new FakeSocket();
  const session = new LiveSession(socket, { now: () => 1000, endTimeoutMs: 50 });
  socket.serverConnect();
  return { socket, session };
}

const chunk = (v: number, n = 4410) => [new Float32Array(n).fill(v)];

describe('LiveSession', () => {
  it('declares the real sample rate and channels in start-call and streams binary chunks', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 'Dana @ Acme', sampleRate: 44100, channels: 2 });
    session.sendAudio([new Float32Array(4410).fill(0.1), new Float32Array(4410).fill(-0.1)]); // before the ack: held
    const start = socket.last('start-call');
    expect(start.args[0]).toEqual({ title: 'Dana @ Acme', sample_rate: 44100, encoding: 'f32le', channels: 2 });
    expect(socket.sent('audio-chunk')).toHaveLength(0);
    start.ack?.({ call_id: 'call-1' });
    await expect(started).resolves.toBe('call-1');
    expect(session.getState()).toMatchObject({ phase: 'live', callId: 'call-1', startedAt: 1000 });

    const sent = socket.sent('audio-chunk');
    expect(sent).toHaveLength(1);
    const payload = sent[0]?.args[0] as ArrayBuffer;
    expect(payload).toBeInstanceOf(ArrayBuffer);
    expect(payload.byteLength).toBe(4410 * 2 * 4);
    const samples = decodeChunk(payload);
    expect([samples[0], samples[1]].map((x) => Number(x?.toFixed(3)))).toEqual([0.1, -0.1]);
  });

  it('reports a refused start-call and goes back to idle', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 48000, channels: 1 });
    socket.last('start-call').ack?.({ error: { code: 'bad_input', message: 'title too long' } });
    await expect(started).rejects.toThrow('title too long');
    expect(session.getState()).toMatchObject({ phase: 'idle', lastError: { code: 'bad_input' } });
  });

  it('replaces interims by id, collects insights and metrics', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    socket.fire('transcript', { id: 'u', text: 'your price', is_final: false, speaker: 'customer', start: 1, end: 2 });
    socket.fire('transcript', { id: 'u', text: 'Your price seems high.', is_final: true, speaker: 'customer', start: 1, end: 3 });
    socket.fire('insight', { id: 'i1', content: 'Anchor on value.', category: 'Objection Handling', agent: 'coach' });
    socket.fire('metrics', { rep_talk_ratio: 0.4, rep_seconds: 4, customer_seconds: 6, longest_monologue_seconds: 3, rep_questions: 1, customer_questions: 2 });
    const s = session.getState();
    expect(s.transcript).toHaveLength(1);
    expect(s.transcript[0]).toMatchObject({ text: 'Your price seems high.', is_final: true });
    expect(s.insights).toEqual([expect.objectContaining({ id: 'i1', feedback: 'none' })]);
    expect(s.metrics?.rep_talk_ratio).toBe(0.4);
  });

  it('holds audio while disconnected and resumes the call with its id on reconnect', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 'Resume me', sampleRate: 44100, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'call-9' });
    await started;
    session.sendAudio(chunk(0.1));
    expect(socket.sent('audio-chunk')).toHaveLength(1);

    socket.fire('transcript', { id: 'half', text: 'we are also', is_final: false, speaker: null, start: 1, end: 2 });
    socket.serverDrop();
    expect(session.getState().connection).toBe('reconnecting');
    session.sendAudio(chunk(0.2));
    session.sendAudio(chunk(0.3));
    expect(socket.sent('audio-chunk')).toHaveLength(1);
    expect(session.getState().bufferedSeconds).toBeCloseTo(0.2);

    socket.serverConnect();
    const resume = socket.last('start-call');
    expect(resume.args[0]).toEqual({ title: 'Resume me', sample_rate: 44100, encoding: 'f32le', channels: 1, call_id: 'call-9' });
    expect(socket.sent('audio-chunk')).toHaveLength(1); // not before the server took the call back
    resume.ack?.({ call_id: 'call-9' });
    await Promise.resolve();
    await Promise.resolve();
    const sent = socket.sent('audio-chunk').map((e) => decodeChunk(e.args[0] as ArrayBuffer)[0]);
    expect(sent.map((x) => Number(x?.toFixed(2)))).toEqual([0.1, 0.2, 0.3]);
    expect(session.getState()).toMatchObject({ phase: 'live', resumes: 1, bufferedSeconds: 0, connection: 'connected' });
    expect(session.getState().transcript).toEqual([]); // the stale interim is gone
  });

  it('re-sends from where the server has the audio when it resumes the call', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 'Failover', sampleRate: 44100, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'call-5' });
    await started;
    session.sendAudio(chunk(0.1));
    session.sendAudio(chunk(0.2)); // in flight when the server node died
    socket.serverDrop();
    session.sendAudio(chunk(0.3)); // captured while reconnecting
    socket.serverConnect();
    socket.last('start-call').ack?.({ call_id: 'call-5', audio_seconds: 0.15 });
    await Promise.resolve();
    await Promise.resolve();
    const resent = socket.sent('audio-chunk').slice(2).map((e) => decodeChunk(e.args[0] as ArrayBuffer));
    // the second half of the 0.2 chunk (0.15-0.2 s), then what was captured meanwhile
    expect(resent.map((x) => [x.length, Number(x[0]?.toFixed(2))])).toEqual([[2205, 0.2], [4410, 0.3]]);
    expect(session.getState().bufferedSeconds).toBe(0);
    session.sendAudio(chunk(0.4)); // and on as usual, nothing twice
    expect(socket.sent('audio-chunk')).toHaveLength(5);
  });

  it('drops the oldest held audio past the limit', async () => {
    const socket = new FakeSocket();
    const session = new LiveSession(socket, { maxBufferedSeconds: 0.25 });
    socket.serverConnect();
    const started = session.start({ title: 't', sampleRate: 44100, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    socket.serverDrop();
    for (let i = 0; i < 5; i++) session.sendAudio(chunk(i / 10));
    expect(session.getState().bufferedSeconds).toBeLessThanOrEqual(0.25);
  });

  it('ends the call and resolves with call-ended', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    const ended = session.end();
    expect(session.getState().phase).toBe('ending');
    expect(socket.last('end-call').args[0]).toEqual({ call_id: 'c' });
    socket.fire('call-ended', { call_id: 'c', summary: 'Price objection; pilot next.', key_moments: [{ kind: 'objection', text: 'price', at: 12 }], action_items: ['Send proposal Friday'] });
    await expect(ended).resolves.toMatchObject({ summary: 'Price objection; pilot next.', action_items: ['Send proposal Friday'] });
    expect(session.getState().phase).toBe('ended');
    // the ack carries the same payload: nothing changes
    socket.last('end-call').ack?.({ call_id: 'c', summary: 'Price objection; pilot next.', key_moments: [], action_items: [] });
    expect(session.getState().ended?.action_items).toEqual(['Send proposal Friday']);
  });

  it('reports an end-call the server refused', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    const ended = session.end();
    socket.last('end-call').ack?.({ error: { code: 'no_call', message: 'no call in progress' } });
    await expect(ended).resolves.toBeNull();
    expect(session.getState()).toMatchObject({ phase: 'ended', lastError: { code: 'no_call' } });
  });

  it('sends feedback and reverts it if the server refuses', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    socket.fire('insight', { id: 'i1', content: 'x', category: 'Closing', agent: 'coach' });

    const ok = session.feedback('i1', 'liked');
    expect(socket.last('feedback').args[0]).toEqual({ id: 'i1', status: 'liked' });
    expect(session.getState().insights[0]?.feedback).toBe('liked');
    socket.last('feedback').ack?.({ ok: true });
    await expect(ok).resolves.toBe(true);

    const refused = session.feedback('i1', 'disliked');
    socket.last('feedback').ack?.({ error: { code: 'not_found', message: 'no such insight' } });
    await expect(refused).resolves.toBe(false);
    expect(session.getState().insights[0]?.feedback).toBe('liked');
  });

  it('says why when the server closes the connection after a sign-out', () => {
    const { socket, session } = connected();
    socket.fire('error', { code: 'unauthorized', message: 'this session expired; sign in again' });
    socket.serverDrop('io server disconnect');
    expect(session.getState()).toMatchObject({
      connection: 'rejected',
      connectionMessage: 'this session expired; sign in again',
    });
  });

  it('tracks degraded providers and server errors', () => {
    const { socket, session } = connected();
    socket.fire('provider-status', { part: 'stt', provider: 'deepgram', degraded: true, message: 'socket closed' });
    expect(session.getState().providers.stt?.degraded).toBe(true);
    socket.fire('provider-status', { part: 'stt', provider: 'deepgram', degraded: false, message: '' });
    expect(session.getState().providers.stt?.degraded).toBe(false);
    socket.fire('error', { code: 'bad_frame', message: 'misaligned chunk' });
    expect(session.getState().lastError?.code).toBe('bad_frame');
  });
});
