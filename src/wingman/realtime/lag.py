"""Event-loop lag of this process, measured in-process by a sleep-drift sampler.

Every `interval` the sampler sleeps and notes how late it woke up: a loop busy for 200 ms
wakes it 200 ms late. The last `window` samples give percentiles for /api/health; the smallest
of the last few samples is the *sustained* lag admission control looks at, so one garbage
collection or one slow handler does not refuse calls, a saturated loop does.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from wingman import metrics

INTERVAL_SECONDS = 0.1
WINDOW_SAMPLES = 1200  # two minutes at the default interval
SUSTAINED_SAMPLES = 3


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted, non-empty list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class LoopLagMonitor:
    """Samples the running loop's lag; `run()` is the task, the rest is read from anywhere."""

    def __init__(
        self,
        *,
        interval: float = INTERVAL_SECONDS,
        window: int = WINDOW_SAMPLES,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0

    def record(self, lag: float) -> None:
        self._samples.append(max(0.0, lag))
        self.count += 1
        metrics.loop_lag(self._samples[-1], self.sustained)

    async def run(self) -> None:
        clock = self._clock or asyncio.get_running_loop().time
        while True:
            started = clock()
            await asyncio.sleep(self.interval)
            self.record(clock() - started - self.interval)

    @property
    def sustained(self) -> float:
        """The lag the loop has had on each of the last few wake-ups (0.0 before any)."""
        if len(self._samples) < SUSTAINED_SAMPLES:
            return 0.0
        return min(self._samples[-i] for i in range(1, SUSTAINED_SAMPLES + 1))

    def snapshot(self) -> dict[str, Any]:
        """Seconds of lag: the last sample, the sustained value and percentiles over the window."""
        ordered = sorted(self._samples)
        stats = {
            name: round(quantile(ordered, q), 4) if ordered else None
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        }
        return {
            "last": round(self._samples[-1], 4) if self._samples else None,
            "sustained": round(self.sustained, 4),
            **stats,
            "samples": len(ordered),
            "window_seconds": round(len(ordered) * self.interval, 1),
        }
