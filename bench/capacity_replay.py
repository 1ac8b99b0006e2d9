"""Local speech capacity on a simulated clock: N calls sharing one decode scheduler, repeatable.

bench/capacity.py streams N calls in real time, so on a shared 2-core machine its verdict moves
with whatever else runs there. This replays the same calls (capacity.sets, in turn) through the
real `ChannelDecoder`s (VAD, windows, commit policy) and the real `DecodeScheduler` (finals
first, interim cadence, batches) on audio time. Each batch the scheduler takes holds one of
`--parallel` decode slots for a modelled time, `n x (--per-decode + --per-batch / n)` seconds
for n decodes (one core each slot; the defaults are this machine's tiny.en figures, see below),
and its results are delivered when it ends. The decodes themselves are the real model's, each
decoded alone with its whole prompt (a live batch may shorten prompts to share a generate call:
wingman.stt.batch), cached on disk by (audio, prompt) as in bench/replay.py. The scheduler's
own accounting sees a batch end as soon as it is taken (its decode returns at once here), so a
rule that looks at what is running is not modelled. Prints:

    capacity_replay calls=10 realtime=no lag_growth_s=2.8 delay_p50_s=0.75 p95_s=4.78 wer=0.440
             lag_trend_s=0.27
    decodes finals=160 interims=245 dropped=7 per_audio_s=1.026 batches=151 batch=2.68
            busy=0.69 cpu_per_audio_s=0.142

  realtime, lag_growth, delay, wer   as bench/capacity.py (realtime: lag_trend_s < 0.5 s;
                   lag_growth: the lag at the end minus at the middle, worst call)
  lag_trend_s      the mean lag over the last quarter of each call minus over its second
                   quarter, worst call: lag_growth samples two instants, so it reads the audio
                   not yet final at them (1.1 s for ONE call here and live, where the last turn
                   is still being spoken when the audio ends); a decoder that falls behind makes
                   the mean lag grow
  decodes          decodes run (finals: final and pause decodes), interims dropped, decodes per
                   second of audio (all calls), batches and decodes per batch
  busy             share of the slots' time spent decoding; cpu_per_audio_s: modelled decode
                   seconds per second of audio (x calls: the cores the decoder needs)
  final asked_after_end   seconds from a span's end to its final's submission: the wait behind
                   the channel's own decode in flight (bench/capacity_trace.py's "channel final")

The cost model: 64 windows of 0.5-7 s from these sets, decoded on one thread with word timings
and no prompt, took 0.171 s of CPU each alone, 0.152 in batches of 2, 0.132 in batches of 4
(2026-12-04): 0.12 s per decode + 0.05 s per batch. Live decodes carry prompts and the engine
has Python work around them: bench/capacity.py measured 0.157 CPU-s per audio-s at 10 calls
where this model gives 0.142.

Run: PYTHONPATH=src .venv/bin/python bench/capacity_replay.py [--calls 10] [--parallel 2]
     [--batch 4] [--seconds 40] [--per-decode 0.12] [--per-batch 0.05] [--cache PATH]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import heapq
import itertools
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import capacity  # noqa: E402
from replay import CachedDecoder  # noqa: E402

from tests.audio_sets import at16k  # noqa: E402
from tests.speech_metrics import StreamRun, final_delays, percentile, wer  # noqa: E402
from wingman.audio.vad import VadParams, VadSegmenter  # noqa: E402
from wingman.stt.base import SAMPLE_RATE, SttResult  # noqa: E402
from wingman.stt.channel import ChannelDecoder, Out  # noqa: E402
from wingman.stt.local import MAX_SPAN_S  # noqa: E402
from wingman.stt.scheduler import INTERIM_SHARE, DecodeScheduler, Job  # noqa: E402
from wingman.stt.whisper import F32, Transcript, WhisperDecoder, model_dir  # noqa: E402

CHUNK = SAMPLE_RATE // 10
INTERIM_S = 0.7  # LocalWhisperStt's interim_interval_s
CACHE = Path("data") / "capacity_replay_cache.pkl"


class Sim:
    """The simulated clock, the decode slots, and a worker pool whose tasks run on them."""

    def __init__(self, slots: int, cost: Callable[[int], float]) -> None:
        self.now = 0.0
        self.extra = 0.0  # while a batch runs: its modelled duration (the scheduler times it)
        self.cost = cost
        self.free_at = [0.0] * slots
        self.busy = 0.0
        self._slot = 0
        self._tasks: deque[Callable[[], object]] = deque()
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now + self.extra

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        self._tasks.append(lambda: fn(*args))

    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def ran(self, n: int) -> float:
        """A batch of n decodes started on the current slot: it is busy until it ends."""
        took = self.cost(n)
        self.extra = took
        self.free_at[self._slot] = self.now + took
        self.busy += took
        return self.now + took

    def _start(self) -> None:
        while self._tasks:
            slot = min(range(len(self.free_at)), key=lambda i: self.free_at[i])
            if self.free_at[slot] > self.now:
                return
            self._slot = slot
            task = self._tasks.popleft()
            try:
                task()
            finally:
                self.extra = 0.0

    def run_until(self, t: float) -> None:
        self._start()
        while True:
            due = [e[0] for e in self._events[:1]] + [f for f in self.free_at if f > self.now]
            nxt = min(due, default=None)
            if nxt is None or nxt > t:
                break
            self.now = nxt
            while self._events and self._events[0][0] <= self.now:
                heapq.heappop(self._events)[2]()
            self._start()
        self.now = max(self.now, t)

    @property
    def waiting(self) -> bool:
        return bool(self._events or self._tasks)


class Timed(ChannelDecoder):
    """A channel that notes how long each final waited to be asked for after its audio was in
    (behind the channel's own decode in flight: one per channel)."""

    waits: list[float]

    def _pump(self) -> None:
        before = self.inflight
        super()._pump()
        job = self.inflight
        if job is not None and job is not before and job.kind == "final":
            self.waits.append(self.clock() - job.at)


class Call:
    """One call: its channel, fed by the simulation, its results on the simulated clock."""

    def __init__(self, key: int, sim: Sim, sched: DecodeScheduler, audio: Any) -> None:
        self.key, self.sim, self.sched, self.audio = key, sim, sched, audio
        self.results: list[tuple[float, SttResult]] = []
        self.finished = False
        self.channel = Timed(
            index=0,
            segmenter=VadSegmenter(params=VadParams(max_speech_s=MAX_SPAN_S)),
            submit=self.submit,
            withdraw=lambda: sched.withdraw(key),
            emit=self.emit,
            fail=self.fail,
            interim_every=lambda: int(max(INTERIM_S, sched.interim_interval()) * SAMPLE_RATE),
            clock=lambda: sim.now,
        )
        self.channel.waits = []

    def submit(
        self, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        """The scheduler's future resolves when the batch is taken; the channel's when it ends."""
        seen: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        real = self.sched.submit(key=self.key, audio=audio, final=final, prompt=prompt, keep="")

        def deliver(fut: concurrent.futures.Future[Transcript | None]) -> None:
            if fut.cancelled():
                seen.cancel()
                return
            result = fut.result()
            if result is None:  # dropped or withdrawn: at once, as the live scheduler does
                seen.set_result(None)
                return
            self.sim.at(self.sim.clock(), lambda: seen.set_result(result))

        real.add_done_callback(deliver)
        return seen

    def finish(self) -> None:
        self.finished = True
        self.channel.finish()

    def emit(self, out: Out) -> None:
        r = SttResult(out.text, out.is_final, 0, out.start, out.end, out.utterance_id, None, out.confidence)
        self.results.append((self.sim.now, r))

    def fail(self, exc: BaseException) -> None:
        raise exc


def lag_growth(run: StreamRun) -> float:
    return capacity.lag_at(run, run.audio.duration) - capacity.lag_at(run, run.audio.duration / 2)


def measure(args: argparse.Namespace, decoder: CachedDecoder) -> str:
    sim = Sim(args.parallel, lambda n: n * args.per_decode + args.per_batch)

    def decode_batch(jobs: Sequence[Job]) -> list[Transcript]:
        sim.ran(len(jobs))
        return [decoder.decode(j.audio, j.prompt) for j in jobs]

    sched = DecodeScheduler(
        pool=sim,  # type: ignore[arg-type]
        decode_batch=decode_batch,
        parallel=args.parallel,
        max_batch=args.batch,
        gather_s=0.0,
        interim_share=args.interim_share,
        clock=sim.clock,
    )
    audios = [at16k(a) for a in capacity.sets(args.seconds)]
    calls = [Call(i, sim, sched, audios[i % len(audios)]) for i in range(args.calls)]
    signals = [np.ascontiguousarray(c.audio.audio[:, 0], dtype=np.float32) for c in calls]
    longest = max(x.shape[0] for x in signals)
    for i in range(0, longest, CHUNK):
        sim.run_until(min(i + CHUNK, longest) / SAMPLE_RATE)
        for call, x in zip(calls, signals, strict=True):
            if i < x.shape[0]:
                call.channel.feed(np.ascontiguousarray(x[i : i + CHUNK]))
            elif not call.finished:
                call.finish()
    for call in calls:
        if not call.finished:
            call.finish()
    while not all(c.channel.idle for c in calls):
        assert sim.waiting or any(f > sim.now for f in sim.free_at), "a channel waits on no decode"
        sim.run_until(sim.now + 0.05)
    decoder.save()
    runs = [StreamRun(c.audio, c.results, t0=0.0) for c in calls]
    growth = max(lag_growth(r) for r in runs)
    trend = max(capacity.lag_trend(r) for r in runs)
    delays = [d for r in runs for d in final_delays(r)]
    words = sum(len(r.audio.reference().split()) for r in runs)
    errors = sum(wer(r.audio, r.finals) * len(r.audio.reference().split()) for r in runs)
    audio_s = sum(r.audio.duration for r in runs)
    decodes = sched.decoded_finals + sched.decoded_interims
    waits = [w for c in calls for w in c.channel.waits]
    span = max(sim.now, 1e-9) * args.parallel
    return (
        f"capacity_replay calls={args.calls} realtime={'yes' if trend < capacity.LIVE_TREND_S else 'no'} "
        f"lag_growth_s={growth:.1f} delay_p50_s={percentile(delays, 50):.2f} "
        f"p95_s={percentile(delays, 95):.2f} wer={errors / words:.3f} lag_trend_s={trend:.2f}\n"
        f"decodes finals={sched.decoded_finals} interims={sched.decoded_interims} "
        f"dropped={sched.dropped_interims} per_audio_s={decodes / audio_s:.3f} batches={sched.batches} "
        f"batch={decodes / max(sched.batches, 1):.2f} busy={sim.busy / span:.2f} "
        f"cpu_per_audio_s={sim.busy / audio_s:.3f}\n"
        f"final asked_after_end n={len(waits)} p50={percentile(waits, 50):.2f} "
        f"p95={percentile(waits, 95):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="decode slots (one core each)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--per-decode", type=float, default=0.12, help="modelled seconds per decode")
    parser.add_argument("--per-batch", type=float, default=0.05, help="... and per batch")
    parser.add_argument("--interim-share", type=float, default=INTERIM_SHARE, help="DecodeScheduler's")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    decoder = CachedDecoder(
        WhisperDecoder(model_dir("tiny.en", data_dir=Path("data")), cpu_threads=1), args.cache
    )
    cost = f"{args.per_decode}n+{args.per_batch}"
    print(
        f"calls={args.calls} parallel={args.parallel} batch={args.batch} cost={cost} "
        f"interim_share={args.interim_share}"
    )
    print(measure(args, decoder), flush=True)


if __name__ == "__main__":
    main()
