"""Where the event loop stalls: a watchdog thread that samples the loop thread's stack while
the loop is late, so a blocking call on the loop names itself in the log.

The loop bumps a heartbeat every `interval`; the watchdog looks every `interval` too. When the
heartbeat is older than `threshold`, the watchdog takes the loop thread's current stack
(`sys._current_frames`) as one sample; when the loop runs again it logs one warning per stall
with its length and the stack seen most often during it (a blocked loop sits in the same
place, a slow pure-Python step shows its hottest line). `stalls` keeps the count and total
seconds per innermost Wingman frame (tests, bench/attack.py).

Off by default (settings.loop_stall_trace_seconds): the sampling costs a thread waking every
`interval`, nothing on the loop itself beyond the heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

STACK_FRAMES = 14  # innermost frames kept per sample


@dataclass
class StallSite:
    """Stalls attributed to one place: how many, and their seconds added up."""

    count: int = 0
    seconds: float = 0.0
    stack: str = ""


def _stack_of(frame: FrameType) -> tuple[str, str]:
    """(the innermost frame of our own code or else the innermost frame, the formatted stack)."""
    frames = traceback.extract_stack(frame)[-STACK_FRAMES:]
    ours = [f for f in frames if "/wingman/" in f.filename and "/realtime/stalls.py" not in f.filename]
    site = (ours or frames)[-1] if frames else None
    where = f"{site.filename.rsplit('/src/', 1)[-1]}:{site.lineno} {site.name}" if site else "?"
    return where, "".join(traceback.format_list(frames))


@dataclass
class LoopStallTracer:
    """Samples the loop thread's stack while its heartbeat is older than `threshold` seconds."""

    threshold: float = 0.2
    interval: float = 0.02
    stalls: dict[str, StallSite] = field(default_factory=dict)
    _beat: float = field(default_factory=time.monotonic)
    _thread_id: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _watchdog: threading.Thread | None = None

    async def run(self) -> None:
        """The loop's side (spawn it as a task): bump the heartbeat; starts the watchdog."""
        self._thread_id = threading.get_ident()
        self._beat = time.monotonic()
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="loop-stall-tracer", daemon=True)
        self._watchdog.start()
        try:
            while True:
                self._beat = time.monotonic()
                await asyncio.sleep(self.interval)
        finally:
            self._stop.set()

    def _watch(self) -> None:
        samples: Counter[str] = Counter()
        stacks: dict[str, str] = {}
        started: float | None = None
        while not self._stop.wait(self.interval):
            beat = self._beat  # read once: the loop may bump it meanwhile
            if time.monotonic() - beat > self.threshold:
                frame = sys._current_frames().get(self._thread_id or -1)
                if frame is not None:
                    where, stack = _stack_of(frame)
                    samples[where] += 1
                    stacks.setdefault(where, stack)
                started = started if started is not None else beat
            elif started is not None:
                self._report(beat - started, samples, stacks)
                samples, stacks, started = Counter(), {}, None

    def _report(self, seconds: float, samples: Counter[str], stacks: dict[str, str]) -> None:
        if not samples:
            return
        where, _ = samples.most_common(1)[0]
        site = self.stalls.setdefault(where, StallSite(stack=stacks[where]))
        site.count += 1
        site.seconds += seconds
        log.warning(
            "event loop stalled",
            extra={"seconds": round(seconds, 3), "where": where, "samples": sum(samples.values()),
                   "stack": stacks[where]},
        )

    def summary(self) -> list[tuple[str, StallSite]]:
        """The stall sites, longest total first."""
        return sorted(self.stalls.items(), key=lambda item: -item[1].seconds)
