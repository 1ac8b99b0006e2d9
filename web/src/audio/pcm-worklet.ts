/**
 * AudioWorklet processor: turns the render quanta of its input (mono mic, or the stereo merge of
 * mic + customer audio) into ~100 ms float32 chunks and posts them, per channel, to the main
 * thread. Bundled on its own through Vite's `?worker&url`.
 */
import { FrameAccumulator, PCM_PROCESSOR_NAME } from './pcm';

// AudioWorkletGlobalScope is not part of TypeScript's DOM lib.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}
declare function registerProcessor(
  name: string,
  ctor: new (options: { processorOptions?: ProcessorOptions }) => AudioWorkletProcessor,
): void;

interface ProcessorOptions {
  channels?: number;
  chunkMs?: number;
}

class PcmCaptureProcessor extends AudioWorkletProcessor {
  private acc: FrameAccumulator;
  private running = true;

  constructor(options: { processorOptions?: ProcessorOptions }) {
    super(options);
    const channels = options.processorOptions?.channels ?? 1;
    const ms = options.processorOptions?.chunkMs ?? 100;
    this.acc = new FrameAccumulator(channels, Math.max(128, Math.round((sampleRate * ms) / 1000)));
    this.port.onmessage = (e: MessageEvent<{ type: string }>) => {
      if (e.data.type === 'flush') {
        const rest = this.acc.flush();
        if (rest) this.post(rest);
        this.port.postMessage({ type: 'flushed' });
      } else if (e.data.type === 'stop') {
        this.running = false;
      }
    };
  }

  private post(channels: Float32Array[]): void {
    this.port.postMessage(
      { type: 'chunk', channels },
      channels.map((c) => c.buffer),
    );
  }

  process(inputs: Float32Array[][]): boolean {
    const input = inputs[0];
    if (input && input.length > 0) {
      for (const chunk of this.acc.push(input)) this.post(chunk);
    }
    return this.running;
  }
}

registerProcessor(PCM_PROCESSOR_NAME, PcmCaptureProcessor);
