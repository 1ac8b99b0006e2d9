import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../audio/pcm';
import type { CaptureHandle, CaptureOptions } from '../audio/capture';
import { FakeSocket } from '../test/fakeSocket';
import { CallController } from './controller';
import { RunningCallStore } from './running';
import { LiveSession } from './session';

const CALL = { callId: 'call-7', title: 'Dana @ Acme', sampleRate: 44100, channels: 1 as const, encoding: 'f32le' as const };
const chunk = (v: number, n = 4410) => [new Float32Array(n).fill(v)];
const tick = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function connected() {
  const socket = new FakeSocket();
  const session = new LiveSession(socket, { now: () => 100_000, endTimeoutMs: 50 });
  socket.serverConnect();
  return { socket, session };
}

/** An in-memory Storage, and a BroadcastChannel pair standing for two tabs. */
class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

describe('LiveSession.resume (a reload or another tab)', () => {
  it('resumes by call id and numbers its audio after what the server has', async () => {
    const { socket, session } = connected();
    const resumed = session.resume(CALL);
    session.sendAudio(chunk(0.1)); // captured before the ack: held
    const start = socket.last('start-call');
    expect(start.args[0]).toEqual({ title: 'Dana @ Acme', sample_rate: 44100, channels: 1, encoding: 'f32le', call_id: 'call-7' });
    expect(socket.sent('audio-chunk')).toHaveLength(0);
    start.ack?.({ call_id: 'call-7', audio_seconds: 65 });
    await expect(resumed).resolves.toBe(65);
    expect(session.getState()).toMatchObject({ phase: 'live', callId: 'call-7', startedAt: 100_000 - 65_000, resumes: 1 });
    expect(socket.sent('audio-chunk').map((e) => decodeChunk(e.args[0] as ArrayBuffer).length)).toEqual([4410]);

    // a later drop re-sends from the server's position in the shifted numbering, nothing twice
    session.sendAudio(chunk(0.2));
    socket.serverDrop();
    socket.serverConnect();
    socket.last('start-call').ack?.({ call_id: 'call-7', audio_seconds: 65.15 });
    await tick();
    const last = socket.sent('audio-chunk').slice(2).map((e) => decodeChunk(e.args[0] as ArrayBuffer));
    expect(last.map((x) => [x.length, Number(x[0]?.toFixed(2))])).toEqual([[2205, 0.2]]);
  });

  it('merges what the server saved with what came live: every line and tip once, in order', async () => {
    const { socket, session } = connected();
    const resumed = session.resume(CALL);
    socket.last('start-call').ack?.({ call_id: 'call-7', audio_seconds: 10 });
    await resumed;
    socket.fire('transcript', { id: 'u3', text: 'and the pilot', is_final: true, speaker: null, start: 10.5, end: 12 });
    socket.fire('transcript', { id: 'u2', text: 'seems high', is_final: true, speaker: null, start: 5, end: 8 }); // also saved
    socket.fire('insight', { id: 'i2', content: 'Propose a pilot.', category: 'Closing', agent: 'coach' });
    session.seed('call-7', {
      transcript: [
        { id: 'u1', text: 'hello', is_final: true, speaker: null, start: 0, end: 2 },
        { id: 'u2', text: 'seems high', is_final: true, speaker: null, start: 5, end: 8 },
      ],
      insights: [{ id: 'i1', content: 'Anchor on value.', category: 'Objection Handling', agent: 'coach', kind: 'tip', context_snippet: '', created_at: '2026-01-01T00:00:00Z', source: null, entity: null, confidence: null, feedback: 'liked' }],
    });
    const s = session.getState();
    expect(s.transcript.map((l) => l.id)).toEqual(['u1', 'u2', 'u3']);
    expect(s.insights.map((i) => [i.id, i.feedback])).toEqual([['i1', 'liked'], ['i2', 'none']]);
    session.seed('other-call', { transcript: [{ id: 'x', text: 'x', is_final: true, speaker: null, start: 0, end: 1 }], insights: [] });
    expect(session.getState().transcript).toHaveLength(3);
  });

  it('reports a call that ended meanwhile and stays idle', async () => {
    const { socket, session } = connected();
    const resumed = session.resume(CALL);
    socket.last('start-call').ack?.({ error: { code: 'call_ended', message: 'this call has ended' } });
    await expect(resumed).rejects.toThrow('this call has ended');
    expect(session.getState()).toMatchObject({ phase: 'idle', callId: null, lastError: { code: 'call_ended' } });
  });

  it('ends an offered call it never streamed, with its summary', async () => {
    const { socket, session } = connected();
    const ended = session.endRunning(CALL);
    expect(socket.last('end-call').args[0]).toEqual({ call_id: 'call-7' });
    socket.last('end-call').ack?.({ call_id: 'call-7', summary: 'Pilot agreed.', key_moments: [], action_items: [] });
    await expect(ended).resolves.toMatchObject({ summary: 'Pilot agreed.' });
    expect(session.getState().phase).toBe('ended');
  });

  it('stops sending when another tab takes the call', async () => {
    const { socket, session } = connected();
    const started = session.start({ title: 't', sampleRate: 16000, channels: 1 });
    socket.last('start-call').ack?.({ call_id: 'c' });
    await started;
    session.handOff();
    session.sendAudio(chunk(0.1, 160));
    expect(socket.sent('audio-chunk')).toHaveLength(0);
    expect(socket.sent('end-call')).toHaveLength(0);
    expect(session.getState()).toMatchObject({ phase: 'idle', handedOff: true });
  });
});

describe('RunningCallStore', () => {
  it('tells this tab from another and hands the call over between tabs', () => {
    const shared = new MemoryStorage();
    const channels: BroadcastChannel[] = [];
    const pair = () => {
      const c = new BroadcastChannel('wingman-call-test');
      channels.push(c);
      return c;
    };
    const tabA = new RunningCallStore(shared, new MemoryStorage(), pair);
    const tabB = new RunningCallStore(shared, new MemoryStorage(), pair);
    tabA.claim(CALL);
    expect(tabA.load()).toMatchObject({ callId: 'call-7', mine: true, sampleRate: 44100 });
    expect(tabB.load()).toMatchObject({ callId: 'call-7', mine: false });
    return new Promise<void>((resolve) => {
      tabA.onTaken((id) => {
        expect(id).toBe('call-7');
        expect(tabA.load()?.mine).toBe(false);
        tabB.clear('call-7');
        expect(tabA.load()).toBeNull();
        channels.forEach((c) => c.close());
        resolve();
      });
      tabB.claim(CALL);
    });
  });

  it('ignores what it cannot read', () => {
    const shared = new MemoryStorage();
    shared.setItem('wingman.running-call', '{not json');
    expect(new RunningCallStore(shared, new MemoryStorage(), () => null).load()).toBeNull();
  });
});

describe('CallController.resume', () => {
  function scripted(sampleRate: number) {
    const seen: { opts: CaptureOptions | null } = { opts: null };
    const starter = async (opts: CaptureOptions): Promise<CaptureHandle> => {
      seen.opts = opts;
      return { sampleRate: opts.sampleRate ?? sampleRate, channels: 1, customerLabel: null, stop: async () => undefined };
    };
    return { starter, seen };
  }

  it('opens the devices at the call’s own rate, then resumes and remembers the call', async () => {
    const socket = new FakeSocket();
    const session = new LiveSession(socket);
    socket.serverConnect();
    const shared = new MemoryStorage();
    const running = new RunningCallStore(shared, new MemoryStorage(), () => null);
    const cap = scripted(48000);
    const ctl = new CallController(session, cap.starter, running);
    const done = ctl.resume(CALL);
    await tick();
    expect(cap.seen.opts).toMatchObject({ sampleRate: 44100, customerAudio: false });
    socket.last('start-call').ack?.({ call_id: 'call-7', audio_seconds: 3 });
    await expect(done).resolves.toBe(true);
    expect(running.load()).toMatchObject({ callId: 'call-7', mine: true });
    expect(ctl.getState()).toMatchObject({ status: 'on', offer: null });
  });

  it('keeps offering the call when the browser waits for a click', async () => {
    const socket = new FakeSocket();
    const session = new LiveSession(socket);
    socket.serverConnect();
    const { CaptureError } = await import('../audio/capture');
    const ctl = new CallController(session, async () => {
      throw new CaptureError('needs-gesture', 'press Resume');
    });
    await expect(ctl.resume(CALL)).resolves.toBe(false);
    expect(ctl.getState()).toMatchObject({ offer: CALL, error: { kind: 'needs-gesture' } });
    expect(socket.sent('start-call')).toHaveLength(0);
  });
});
