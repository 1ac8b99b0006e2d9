import { describe, expect, it } from 'vitest';
import { CaptureError, type CaptureHandle, type CaptureOptions } from '../audio/capture';
import { FakeSocket } from '../test/fakeSocket';
import { CallController } from './controller';
import { LiveSession } from './session';

/** A capture source that hands the test its onChunk callback instead of opening devices. */
function scriptedCapture(sampleRate: number, channels: 1 | 2) {
  const state: { opts: CaptureOptions | null; stopped: boolean } = { opts: null, stopped: false };
  const starter = async (opts: CaptureOptions): Promise<CaptureHandle> => {
    state.opts = opts;
    return {
      sampleRate,
      channels,
      customerLabel: null,
      async stop() {
        state.stopped = true;
      },
    };
  };
  return { starter, state };
}

function setup(starter: ConstructorParameters<typeof CallController>[1]) {
  const socket = new FakeSocket();
  const session = new LiveSession(socket);
  socket.serverConnect();
  return { socket, controller: new CallController(session, starter) };
}

describe('CallController', () => {
  it('declares the capture rate it got (44.1 kHz here), not an assumed one', async () => {
    const cap = scriptedCapture(44100, 2);
    const { socket, controller } = setup(cap.starter);
    const started = controller.start('Dana', true);
    await Promise.resolve();
    await Promise.resolve();
    const start = socket.last('start-call');
    expect(start.args[0]).toEqual({ title: 'Dana', sample_rate: 44100, channels: 2, encoding: 'f32le' });
    start.ack?.({ call_id: 'c1' });
    await expect(started).resolves.toBe(true);

    cap.state.opts?.onChunk([new Float32Array(4410).fill(0.2), new Float32Array(4410).fill(-0.2)]);
    expect((socket.last('audio-chunk').args[0] as ArrayBuffer).byteLength).toBe(4410 * 2 * 4);
    expect(controller.ring.channels).toBe(2);
    expect(controller.getState()).toMatchObject({ status: 'on', sampleRate: 44100, channels: 2 });

    const ended = controller.stop();
    expect(cap.state.stopped).toBe(true);
    await Promise.resolve();
    socket.fire('call-ended', { call_id: 'c1', summary: 's', key_moments: [], action_items: [] });
    await expect(ended).resolves.toMatchObject({ call_id: 'c1' });
  });

  it('reports a denied microphone and never starts a call', async () => {
    const { socket, controller } = setup(async () => {
      throw new CaptureError('mic-denied', 'Microphone access was denied.');
    });
    await expect(controller.start('x', false)).resolves.toBe(false);
    expect(controller.getState()).toMatchObject({ status: 'off', error: { kind: 'mic-denied' } });
    expect(socket.sent('start-call')).toHaveLength(0);
  });

  it('releases the devices when the server refuses the call', async () => {
    const cap = scriptedCapture(48000, 1);
    const { socket, controller } = setup(cap.starter);
    const started = controller.start('x', false);
    await Promise.resolve();
    await Promise.resolve();
    socket.last('start-call').ack?.({ error: { code: 'bad_payload', message: 'start-call: sample_rate: too high' } });
    await expect(started).resolves.toBe(false);
    expect(cap.state.stopped).toBe(true);
    expect(controller.getState()).toMatchObject({ status: 'off', error: { kind: 'server', message: 'start-call: sample_rate: too high' } });
  });
});
