import { describe, expect, it } from 'vitest';
import { chunkFrames, decodeChunk, deinterleave, encodeChunk, encodeF32LE, encodeS16LE, FrameAccumulator, interleave, rms } from './pcm';

const f32 = (...xs: number[]) => Float32Array.from(xs);

describe('interleave', () => {
  it('returns mono unchanged', () => {
    const m = f32(0.1, 0.2, 0.3);
    expect(interleave([m])).toBe(m);
  });

  it('interleaves stereo as rep, customer, rep, customer', () => {
    expect(Array.from(interleave([f32(1, 2, 3), f32(-1, -2, -3)]))).toEqual([1, -1, 2, -2, 3, -3]);
  });

  it('pads a short channel with silence', () => {
    expect(Array.from(interleave([f32(1, 2, 3), f32(-1)]))).toEqual([1, -1, 2, 0, 3, 0]);
  });

  it('round-trips through deinterleave', () => {
    const left = f32(0.5, -0.25, 0.125, 0);
    const right = f32(-0.5, 0.25, -0.125, 1);
    const [l, r] = deinterleave(interleave([left, right]), 2);
    expect(l).toEqual(left);
    expect(r).toEqual(right);
  });
});

describe('encoding', () => {
  it('writes float32 little-endian bytes', () => {
    const buf = encodeF32LE(f32(1, -0.5));
    expect(buf.byteLength).toBe(8);
    const view = new DataView(buf);
    expect(view.getFloat32(0, true)).toBe(1);
    expect(view.getFloat32(4, true)).toBe(-0.5);
    // 1.0f is 0x3f800000: little-endian puts 0x00 first and 0x3f last
    expect(Array.from(new Uint8Array(buf, 0, 4))).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });

  it('replaces NaN and Infinity with silence (the gateway rejects them)', () => {
    expect(Array.from(decodeChunk(encodeF32LE(f32(NaN, Infinity, -Infinity, 0.25))))).toEqual([0, 0, 0, 0.25]);
  });

  it('writes int16 little-endian with clipping', () => {
    const buf = encodeS16LE(f32(0, 1, -1, 2, -2, 0.5));
    const view = new DataView(buf);
    expect([0, 1, 2, 3, 4, 5].map((i) => view.getInt16(i * 2, true))).toEqual([0, 32767, -32768, 32767, -32768, 16384]);
  });

  it('encodes a stereo chunk interleaved and decodes back', () => {
    const rep = f32(0.1, 0.2);
    const customer = f32(-0.1, -0.2);
    const bytes = encodeChunk([rep, customer], 'f32le');
    expect(bytes.byteLength).toBe(16);
    expect(Array.from(decodeChunk(bytes))).toEqual(Array.from(f32(0.1, -0.1, 0.2, -0.2)));
    const s16 = decodeChunk(encodeChunk([rep, customer], 's16le'), 's16le');
    expect(s16.length).toBe(4);
    expect(s16[1]).toBeCloseTo(-0.1, 3);
  });
});

describe('FrameAccumulator', () => {
  it('sizes ~100 ms chunks from the real sample rate', () => {
    expect(chunkFrames(44100)).toBe(4410);
    expect(chunkFrames(48000)).toBe(4800);
    expect(chunkFrames(16000, 5)).toBe(128);
  });

  it('turns 128-frame render quanta into fixed chunks without losing samples', () => {
    const acc = new FrameAccumulator(1, 300);
    const out: Float32Array[][] = [];
    let n = 0;
    for (let q = 0; q < 5; q++) {
      const quantum = new Float32Array(128).map(() => n++);
      out.push(...acc.push([quantum]));
    }
    expect(out).toHaveLength(2); // 640 frames -> 2 x 300, 40 left
    expect(out[0]?.[0]?.[0]).toBe(0);
    expect(out[0]?.[0]?.[299]).toBe(299);
    expect(out[1]?.[0]?.[0]).toBe(300);
    const rest = acc.flush();
    expect(rest?.[0]?.length).toBe(40);
    expect(rest?.[0]?.[39]).toBe(639);
    expect(acc.flush()).toBeNull();
  });

  it('keeps stereo channels apart and gives each chunk fresh buffers', () => {
    const acc = new FrameAccumulator(2, 128);
    const a = acc.push([new Float32Array(128).fill(0.5), new Float32Array(128).fill(-0.5)]);
    const b = acc.push([new Float32Array(128).fill(0.25)]); // customer missing: silence
    expect(a[0]?.[0]?.[5]).toBe(0.5);
    expect(a[0]?.[1]?.[5]).toBe(-0.5);
    expect(b[0]?.[1]?.[5]).toBe(0);
    expect(a[0]?.[0]).not.toBe(b[0]?.[0]);
  });

  it('measures level', () => {
    expect(rms(new Float32Array(10))).toBe(0);
    expect(rms(f32(0.5, -0.5))).toBeCloseTo(0.5);
  });
});
