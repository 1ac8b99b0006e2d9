"""Local speech capacity: N concurrent calls on the local engine, in-process, at real-time pace.

Every call streams a realistic one-channel conversation (tests/audio_sets.py: the real phone
recording and synthetic two-voice telephone calls, in turn) in 100 ms chunks into ONE
LocalWhisperStt (one model, one batching decode scheduler), all at once. Prints two lines:

    capacity calls=10 realtime=yes lag_growth_s=0.1 lag_trend_s=0.05 delay_p50_s=0.9 p95_s=2.1
             wer=0.12 cpu=0.140 cores=1.40 batch=3.1
    process cpu_s=56.0 wall_s=41.2 cores_used=1.36 decodes=812 load1=3.10

  realtime     finals keep up: lag_trend_s < 0.5 s (until 2026-12-07 the rule was lag_growth_s
               < 1 s, which one call alone fails: see lag_growth_s)
  lag_trend_s  the lag of each call's finals behind its audio averaged over the last quarter of
               the call minus over its second quarter, worst call: a decoder that falls behind
               makes the mean lag grow
  lag_growth_s that lag at the end minus at the middle, worst call. It samples two instants and
               reads the speech not yet final at them: one call alone gives lag_growth_s=1.1 on
               every run (the real phone call's audio ends 0.1-0.3 s after its last turn, before
               that turn's final can arrive), and small changes flip it
               (bench/capacity_replay.py); printed for comparison with earlier runs
  delay        sentence end -> final holding it, p50/p95 over every call (tests/speech_metrics)
  wer          word error rate of the finals, over every call
  cpu          CPU seconds of this process per second of audio (all calls' audio); `cores`:
               cpu x calls, the cores N calls need at real-time pace (2 cores: fits below ~1.6)
               The second line: the process's CPU seconds and wall seconds over the run, the
               cores it actually used, and the decodes it ran (judge capacity by CPU when the
               machine is shared: a starved process falls behind however cheap its decodes)
  batch        decodes per batched CTranslate2 call (mean)

`--max` finds the largest N that stays live (doubling, then bisecting).
Figures on a shared 2-core machine are noisy: other work on it makes them worse.
Run: .venv/bin/python bench/capacity.py [--calls 10] [--max] [--threads 1] [--parallel 2] [--batch 4]
    [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audio_sets import AudioSet, real_phone_call, synthetic_call  # noqa: E402
from tests.speech_metrics import StreamRun, final_delays, percentile, stream_set, wer  # noqa: E402
from wingman.stt.local import LocalWhisperStt  # noqa: E402


@dataclass
class Outcome:
    calls: int
    live: bool
    lag_growth: float
    lag_trend: float
    delays: list[float]
    wer: float
    cpu: float
    batch: float
    cpu_s: float
    wall_s: float
    decodes: int

    def line(self) -> str:
        return (
            f"capacity calls={self.calls} realtime={'yes' if self.live else 'no'} "
            f"lag_growth_s={self.lag_growth:.1f} lag_trend_s={self.lag_trend:.2f} "
            f"delay_p50_s={percentile(self.delays, 50):.2f} "
            f"p95_s={percentile(self.delays, 95):.2f} wer={self.wer:.3f} cpu={self.cpu:.3f} "
            f"cores={self.cpu * self.calls:.2f} batch={self.batch:.1f}\n"
            f"process cpu_s={self.cpu_s:.1f} wall_s={self.wall_s:.1f} "
            f"cores_used={self.cpu_s / max(self.wall_s, 1e-9):.2f} decodes={self.decodes} "
            f"load1={os.getloadavg()[0]:.2f}"
        )


def cut(audio: AudioSet, seconds: float) -> AudioSet:
    """The first `seconds` of a set, cut in the gap after the last turn that ends in it (a turn
    cut in half would count as errors)."""
    turns = tuple(t for t in audio.turns if t.end <= seconds)
    after = [t.start for t in audio.turns if t.end > seconds]
    end = min([seconds, *after]) if turns else seconds
    frames = int(end * audio.rate)
    return AudioSet(audio.name, audio.audio[:frames], audio.rate, turns)


def sets(seconds: float) -> list[AudioSet]:
    return [cut(a, seconds) for a in (real_phone_call(0), synthetic_call(0), synthetic_call(1))]


LIVE_TREND_S = 0.5  # the mean lag may rise this much between the second and last quarter


def lag_at(run: StreamRun, t: float) -> float:
    """Seconds the finals that arrived by audio time t lag behind it (t - their furthest end)."""
    ends = [r.end for at, r in run.results if r.is_final and at - run.t0 <= t]
    return t - max(ends, default=0.0)


def lag_trend(run: StreamRun) -> float:
    """The mean lag (sampled every 0.1 s) over the last quarter minus over the second quarter."""
    d = run.audio.duration

    def mean(lo: float, hi: float) -> float:
        ts = np.arange(lo * d, hi * d, 0.1)
        return float(np.mean([lag_at(run, float(t)) for t in ts]))

    return mean(0.75, 1.0) - mean(0.25, 0.5)


async def measure(args: argparse.Namespace, calls: int) -> Outcome:
    stt = LocalWhisperStt(
        model="tiny.en", cpu_threads=args.threads, max_batch=args.batch, parallel_decodes=args.parallel
    )
    await stt.warm_up()
    audios = sets(args.seconds)
    cpu0, wall0 = time.process_time(), time.monotonic()
    decodes0 = stt.scheduler.decoded_finals + stt.scheduler.decoded_interims
    batches0 = stt.scheduler.batches
    runs = await asyncio.gather(*(stream_set(stt, audios[i % len(audios)]) for i in range(calls)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    decodes = stt.scheduler.decoded_finals + stt.scheduler.decoded_interims - decodes0
    batches = max(stt.scheduler.batches - batches0, 1)
    await stt.aclose()
    growth = max(lag_at(r, r.audio.duration) - lag_at(r, r.audio.duration / 2) for r in runs)
    trend = max(lag_trend(r) for r in runs)
    delays = [d for r in runs for d in final_delays(r)]
    errors = sum(wer(r.audio, r.finals) * len(r.audio.reference().split()) for r in runs)
    words = sum(len(r.audio.reference().split()) for r in runs)
    audio_s = sum(r.audio.duration for r in runs)
    live, batch = trend < LIVE_TREND_S, decodes / batches
    return Outcome(
        calls, live, growth, trend, delays, errors / words, cpu / audio_s, batch, cpu, wall, decodes
    )


async def run(args: argparse.Namespace) -> None:
    setup = f"threads={args.threads} parallel={args.parallel} batch={args.batch} seconds={args.seconds}"
    print(f"{setup} load={os.getloadavg()[0]:.2f}")
    if not args.max:
        print((await measure(args, args.calls)).line())
        return
    lo, hi, n = 0, 0, max(args.calls, 1)
    while True:  # double while live
        out = await measure(args, n)
        print(out.line(), flush=True)
        if not out.live:
            hi = n
            break
        lo, n = n, n * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        out = await measure(args, mid)
        print(out.line(), flush=True)
        lo, hi = (mid, hi) if out.live else (lo, mid)
    print(f"capacity max_live_calls={lo} load={os.getloadavg()[0]:.2f} (2 cores; noisy when shared)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--max", action="store_true", help="find the largest N that stays live")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads per batch; 0 = auto")
    parser.add_argument("--batch", type=int, default=4, help="decodes per batch (1: no batching)")
    parser.add_argument("--parallel", type=int, default=0, help="batches decoded at once; 0 = auto")
    parser.add_argument("--seconds", type=float, default=40.0, help="audio per call")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
