"""Where the local-speech lag of bench/capacity.py comes from: one capacity run, traced.

Runs `capacity.measure` (same calls, same sets) with timers around the decode path and prints,
after capacity's two lines:

    channel final   n=51 asked_after_end p50=0.67 p95=3.09 max=3.49
    scheduler final n=131 queue p50=0.01 p95=1.14  batch_wall p50=0.78 p95=3.91  audio_s=5.0
    thread wingman-decode_0 batches=41 busy=36.3/41.2 s
    phase_wall_s feat=2.8 encode=29.8 generate=31.6 align=7.5  generate_calls/batch=1.2
    quarter 0 finals=24 queue=0.04 batch_wall=0.46 batch=2.4

  channel <kind>   seconds from when a decode's audio was all in (a final: the VAD heard the
                   span end) to when the channel submitted it: a final waits here for the
                   channel's decode in flight (one per channel), an interim never waits
  scheduler <kind> seconds a submitted decode waited in the shared queue, and the wall time of
                   the batch it ran in (what a final waits for after it is taken)
  thread           batches and busy wall seconds of each decode thread over the run: the rest
                   is idle (nothing pending)
  phase_wall_s     wall seconds summed over batches: mel features (numpy, wingman.stt.batch),
                   CTranslate2 encode, generate and align; generate calls per batch (one per
                   group of prompts of one length, wingman.stt.batch.prompt_groups)
  quarter k        the same, for the finals submitted in each quarter of the run (lag that
                   grows shows as queue/batch_wall that grow)

Figures on a shared machine are noisy: run under the bench lock and note the load.
Run: PYTHONPATH=src .venv/bin/python bench/capacity_trace.py [--calls 10] [capacity's options]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import capacity  # noqa: E402

from tests.speech_metrics import percentile  # noqa: E402
from wingman.stt import batch, channel, scheduler, whisper  # noqa: E402


@dataclass
class Decode:
    final: bool
    submitted: float
    taken: float
    done: float
    batch: int


@dataclass
class Batch:
    began: float
    ended: float
    size: int
    thread: str


class Trace:
    def __init__(self) -> None:
        self.decodes: list[Decode] = []
        self.batches: list[Batch] = []
        self.asked: list[tuple[str, float]] = []  # (kind, seconds after its audio was in)
        self.phase: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._submitted: dict[int, float] = {}

    def install(self) -> None:
        """Wrap the scheduler, the channel and the decoder's model (class level: the engine and
        its streams are built inside capacity.measure)."""
        submit, run = scheduler.DecodeScheduler.submit, scheduler.DecodeScheduler._run
        pump = channel.ChannelDecoder._pump
        init = whisper.WhisperDecoder.__init__
        trace = self

        def traced_submit(self: scheduler.DecodeScheduler, *, key: Hashable, **kw: Any) -> Any:
            fut = submit(self, key=key, **kw)
            trace._submitted[id(fut)] = time.monotonic()
            return fut

        def traced_run(self: scheduler.DecodeScheduler, jobs: list[scheduler.Job]) -> None:
            began = time.monotonic()
            run(self, jobs)
            ended = time.monotonic()
            trace.batches.append(Batch(began, ended, len(jobs), threading.current_thread().name))
            for j in jobs:
                at = trace._submitted.pop(id(j.future), began)
                trace.decodes.append(Decode(j.final, at, began, ended, len(jobs)))

        def traced_pump(self: channel.ChannelDecoder) -> None:
            before = self.inflight
            pump(self)
            job = self.inflight
            if job is not None and job is not before:
                trace.asked.append((job.kind, time.monotonic() - job.at))

        def traced_init(self: whisper.WhisperDecoder, *a: Any, **kw: Any) -> None:
            init(self, *a, **kw)
            self._model.model = _Timed(self._model.model, trace)

        batch.log_mel = self._timed(batch.log_mel, "feat")
        scheduler.DecodeScheduler.submit = traced_submit  # type: ignore[method-assign]
        scheduler.DecodeScheduler._run = traced_run  # type: ignore[method-assign]
        channel.ChannelDecoder._pump = traced_pump  # type: ignore[method-assign]
        whisper.WhisperDecoder.__init__ = traced_init  # type: ignore[method-assign]

    def _timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*a: Any, **kw: Any) -> Any:
            began = time.monotonic()
            try:
                return fn(*a, **kw)
            finally:
                self.phase[label] += time.monotonic() - began
                self.calls[label] += 1

        return timed

    def report(self) -> str:
        lines = []
        for kind in ("final", "pause", "interim"):
            xs = [s for k, s in self.asked if k == kind]
            if xs:
                lines.append(
                    f"channel {kind} n={len(xs)} asked_after_end p50={percentile(xs, 50):.2f} "
                    f"p95={percentile(xs, 95):.2f} max={max(xs):.2f}"
                )
        for final in (True, False):
            ds = [d for d in self.decodes if d.final == final]
            if ds:
                queue, wall = [d.taken - d.submitted for d in ds], [d.done - d.taken for d in ds]
                lines.append(
                    f"scheduler {'final' if final else 'interim'} n={len(ds)} "
                    f"queue p50={percentile(queue, 50):.2f} p95={percentile(queue, 95):.2f}  "
                    f"batch_wall p50={percentile(wall, 50):.2f} p95={percentile(wall, 95):.2f}"
                )
        if not self.batches:
            return "\n".join(lines)
        t0, t1 = min(b.began for b in self.batches), max(b.ended for b in self.batches)
        for name in sorted({b.thread for b in self.batches}):
            bs = [b for b in self.batches if b.thread == name]
            busy = sum(b.ended - b.began for b in bs)
            lines.append(f"thread {name} batches={len(bs)} busy={busy:.1f}/{t1 - t0:.1f} s")
        lines.append(
            "phase_wall_s "
            + " ".join(f"{k}={v:.1f}" for k, v in self.phase.items())
            + f"  generate_calls/batch={self.calls['generate'] / len(self.batches):.2f}"
        )
        for k in range(4):
            lo, hi = t0 + (t1 - t0) * k / 4, t0 + (t1 - t0) * (k + 1) / 4
            ds = [d for d in self.decodes if d.final and lo <= d.submitted < hi]
            bs = [b for b in self.batches if lo <= b.began < hi]
            if ds and bs:
                queue = sum(d.taken - d.submitted for d in ds) / len(ds)
                wall = sum(b.ended - b.began for b in bs) / len(bs)
                size = sum(b.size for b in bs) / len(bs)
                lines.append(
                    f"quarter {k} finals={len(ds)} queue={queue:.2f} batch_wall={wall:.2f} batch={size:.1f}"
                )
        return "\n".join(lines)


class _Timed:
    """A CTranslate2 Whisper model whose encode/generate/align calls are timed."""

    def __init__(self, inner: Any, trace: Trace) -> None:
        self._inner = inner
        self.encode = trace._timed(inner.encode, "encode")
        self.generate = trace._timed(inner.generate, "generate")
        self.align = trace._timed(inner.align, "align")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def run(args: argparse.Namespace) -> None:
    trace = Trace()
    trace.install()
    out = await capacity.measure(args, args.calls)
    print(out.line())
    print(trace.report())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=40.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
