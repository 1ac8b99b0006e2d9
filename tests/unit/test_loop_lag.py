"""The sleep-drift sampler sees a blocked event loop, and only sustained lag counts."""

from __future__ import annotations

import asyncio
import time

from wingman.realtime.lag import LoopLagMonitor


async def test_blocking_the_loop_shows_as_lag() -> None:
    monitor = LoopLagMonitor(interval=0.02)
    task = asyncio.get_running_loop().create_task(monitor.run())
    try:
        await asyncio.sleep(0.1)
        assert monitor.sustained < 0.05
        for _ in range(4):
            time.sleep(0.15)  # noqa: ASYNC251 - holding the loop is the point: the sampler wakes late
            await asyncio.sleep(0.001)  # (its overdue wake-up runs before this one)
        snap = monitor.snapshot()
        assert monitor.sustained >= 0.1
        assert snap["max"] >= 0.1 and snap["p50"] is not None and snap["samples"] >= 5
    finally:
        task.cancel()


def test_one_spike_is_not_sustained() -> None:
    monitor = LoopLagMonitor()
    for lag in (0.0, 0.0, 2.0, 0.0):
        monitor.record(lag)
    assert monitor.sustained == 0.0
    for lag in (0.6, 0.9, 0.7):
        monitor.record(lag)
    assert monitor.sustained == 0.6
    assert monitor.snapshot()["max"] == 2.0
