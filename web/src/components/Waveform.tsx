import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { SampleRing } from '../audio/ring';

export interface Peak {
  min: number;
  max: number;
}

/** Min/max of each of `columns` equal slices of `samples` (the classic waveform envelope). */
export function peaks(samples: Float32Array, columns: number): Peak[] {
  const out: Peak[] = [];
  if (columns <= 0 || samples.length === 0) return out;
  const per = samples.length / columns;
  for (let x = 0; x < columns; x++) {
    const from = Math.floor(x * per);
    const to = Math.max(from + 1, Math.floor((x + 1) * per));
    let min = 0;
    let max = 0;
    for (let i = from; i < to && i < samples.length; i++) {
      const v = samples[i] as number;
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out.push({ min: Math.max(-1, min), max: Math.min(1, max) });
  }
  return out;
}

export const CHANNEL_COLORS = ['#4f46e5', '#059669'];

/**
 * Draws each channel in its own horizontal lane: a vertical stroke per pixel column from the
 * slice's max to its min, around a faint center line.
 */
export function drawWaveform(
  ctx: CanvasRenderingContext2D,
  channels: readonly Float32Array[],
  width: number,
  height: number,
  colors: readonly string[] = CHANNEL_COLORS,
): void {
  ctx.clearRect(0, 0, width, height);
  const lanes = Math.max(1, channels.length);
  const laneHeight = height / lanes;
  channels.forEach((samples, c) => {
    const mid = laneHeight * c + laneHeight / 2;
    const half = laneHeight / 2 - 1;
    ctx.strokeStyle = '#e2e8f0';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, mid);
    ctx.lineTo(width, mid);
    ctx.stroke();

    ctx.strokeStyle = colors[c % colors.length] ?? '#4f46e5';
    ctx.beginPath();
    const cols = Math.floor(width);
    peaks(samples, cols).forEach((p, x) => {
      // at least one pixel tall so silence still reads as a live line
      const top = mid - Math.max(0.5, p.max * half);
      const bottom = mid - Math.min(-0.5, p.min * half);
      ctx.moveTo(x + 0.5, top);
      ctx.lineTo(x + 0.5, bottom);
    });
    ctx.stroke();
  });
}

/** A canvas that redraws whenever `version` (or the buffers) change. */
export function Waveform({
  channels,
  version = 0,
  height = 72,
  width = 600,
  label = 'Audio waveform',
}: {
  channels: readonly Float32Array[];
  version?: number;
  height?: number;
  width?: number;
  label?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const dpr = typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1;
    const cssWidth = canvas.clientWidth || width;
    const cssHeight = canvas.clientHeight || height;
    if (canvas.width !== Math.round(cssWidth * dpr)) canvas.width = Math.round(cssWidth * dpr);
    if (canvas.height !== Math.round(cssHeight * dpr)) canvas.height = Math.round(cssHeight * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawWaveform(ctx, channels, cssWidth, cssHeight);
  }, [channels, version, width, height]);

  return <canvas ref={ref} role="img" aria-label={label} className="block w-full rounded-md bg-slate-50" style={{ height }} />;
}

/** The waveform of the live capture, redrawn as chunks arrive. */
export function LiveWaveform({ ring, height = 72 }: { ring: SampleRing; height?: number }) {
  const version = useSyncExternalStore(ring.subscribe, ring.getVersion);
  const label = ring.channels === 2 ? 'Live audio: your microphone (top) and customer audio (bottom)' : 'Live audio from your microphone';
  return <Waveform channels={ring.snapshot()} version={version} height={height} label={label} />;
}
