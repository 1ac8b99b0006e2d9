import { act, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SampleRing } from '../audio/ring';
import { drawWaveform, LiveWaveform, peaks, Waveform } from './Waveform';

/** Records path commands: jsdom has no canvas, and we want to see what would be drawn. */
class RecordingContext {
  ops: [string, ...number[]][] = [];
  strokeStyle = '';
  lineWidth = 1;
  clearRect(...a: number[]) {
    this.ops.push(['clearRect', ...a]);
  }
  beginPath() {
    this.ops.push(['beginPath']);
  }
  moveTo(x: number, y: number) {
    this.ops.push(['moveTo', x, y]);
  }
  lineTo(x: number, y: number) {
    this.ops.push(['lineTo', x, y]);
  }
  stroke() {
    this.ops.push(['stroke']);
  }
  setTransform() {}
  /** the vertical strokes (one per column) as [x, top, bottom] */
  columns(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i + 1 < this.ops.length; i++) {
      const a = this.ops[i] as [string, number, number];
      const b = this.ops[i + 1] as [string, number, number];
      if (a[0] === 'moveTo' && b[0] === 'lineTo' && a[1] === b[1]) out.push([a[1], a[2], b[2]]);
    }
    return out;
  }
}

function ctxFor(rec: RecordingContext): CanvasRenderingContext2D {
  return rec as unknown as CanvasRenderingContext2D;
}

describe('peaks', () => {
  it('takes min and max per column', () => {
    const s = Float32Array.from([0.1, -0.2, 0.9, 0.3, -0.8, 0, 0, 0]);
    expect(peaks(s, 2)).toEqual([
      { min: expect.closeTo(-0.2, 5), max: expect.closeTo(0.9, 5) },
      { min: expect.closeTo(-0.8, 5), max: 0 },
    ]);
  });
});

describe('drawWaveform', () => {
  it('draws a tall stroke where the audio is loud and a flat one where it is silent', () => {
    const samples = new Float32Array(1000);
    for (let i = 500; i < 1000; i++) samples[i] = i % 2 ? 0.8 : -0.8; // second half loud
    const rec = new RecordingContext();
    drawWaveform(ctxFor(rec), [samples], 100, 40);
    const cols = rec.columns().filter(([x]) => x !== 0); // drop the center line
    expect(cols).toHaveLength(100);
    const height = ([, top, bottom]: number[]) => (bottom as number) - (top as number);
    expect(height(cols[10] as number[])).toBeLessThanOrEqual(1);
    expect(height(cols[90] as number[])).toBeCloseTo(0.8 * 2 * 19, 1);
  });

  it('gives each channel its own lane', () => {
    const rep = new Float32Array(200).fill(0.5);
    const customer = new Float32Array(200);
    const rec = new RecordingContext();
    drawWaveform(ctxFor(rec), [rep, customer], 50, 100);
    const strokes = rec.columns().filter(([x]) => x !== 0);
    const lane0 = strokes.slice(0, 50);
    const lane1 = strokes.slice(50);
    expect(lane0.every(([, top]) => (top as number) < 25)).toBe(true);
    expect(lane1.every(([, top, bottom]) => (top as number) > 50 && (bottom as number) - (top as number) <= 1)).toBe(true);
  });
});

describe('<Waveform>', () => {
  afterEach(() => vi.restoreAllMocks());

  it('draws the samples it is given onto its canvas and redraws on a new version', () => {
    const rec = new RecordingContext();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => ctxFor(rec) as never);
    const samples = new Float32Array(600).fill(0.5);
    const { rerender, getByRole } = render(<Waveform channels={[samples]} width={60} height={20} version={1} />);
    expect(getByRole('img', { name: 'Audio waveform' })).toBeInTheDocument();
    expect(rec.columns().filter(([x]) => x !== 0)).toHaveLength(60);
    const first = rec.ops.length;
    samples.fill(0);
    rerender(<Waveform channels={[samples]} width={60} height={20} version={2} />);
    expect(rec.ops.length).toBeGreaterThan(first);
  });

  it('redraws the live ring as chunks arrive', () => {
    const rec = new RecordingContext();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => ctxFor(rec) as never);
    const ring = new SampleRing(1000, 1);
    render(<LiveWaveform ring={ring} />);
    const clears = () => rec.ops.filter((o) => o[0] === 'clearRect').length;
    const before = clears();
    act(() => ring.push([new Float32Array(441).fill(0.3)]));
    expect(clears()).toBe(before + 1);
    expect(ring.snapshot()[0]?.[999]).toBeCloseTo(0.3);
    expect(ring.snapshot()[0]?.[0]).toBe(0);
  });
});
