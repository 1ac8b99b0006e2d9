import { describe, expect, it } from 'vitest';
import { AudioOutbox } from './outbox';

const chunk = (v: number, n = 100) => [new Float32Array(n).fill(v)];
const firsts = (chunks: Float32Array[][]) => chunks.map((c) => [c[0]?.length, Number(c[0]?.[0]?.toFixed(2))]);

describe('AudioOutbox', () => {
  it('hands out each chunk once and again from where the server has the audio', () => {
    const box = new AudioOutbox(1000);
    box.push(chunk(0.1));
    box.push(chunk(0.2));
    expect(firsts(box.take())).toEqual([[100, 0.1], [100, 0.2]]);
    expect(box.take()).toEqual([]);
    box.sentUpTo(150); // the server lost the second half of the 0.2 chunk
    expect(firsts(box.take())).toEqual([[50, 0.2]]);
  });

  it('shifts call time for a call resumed on a fresh page, keeping what was held meanwhile', () => {
    const box = new AudioOutbox(1000);
    box.reset(1000);
    box.push(chunk(0.3)); // captured while the resume was being acknowledged
    box.shift(4410); // the server has 4410 frames of this call already
    expect(box.unsentFrames()).toBe(100);
    expect(firsts(box.take())).toEqual([[100, 0.3]]);
    box.sentUpTo(4460); // a later reconnect: only the frames after 4460 again
    box.push(chunk(0.4));
    expect(firsts(box.take())).toEqual([[50, 0.3], [100, 0.4]]);
  });

  it('keeps only the newest frames', () => {
    const box = new AudioOutbox(250);
    for (let i = 0; i < 5; i++) box.push(chunk(i / 10));
    expect(box.unsentFrames()).toBe(200);
    expect(firsts(box.take())).toEqual([[100, 0.3], [100, 0.4]]);
  });
});
