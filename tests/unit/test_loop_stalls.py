"""The loop-stall tracer names the place that blocked the event loop, with how long it did."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from wingman.realtime.stalls import LoopStallTracer


def _blocking_step() -> None:
    time.sleep(0.4)  # a synchronous call on the loop


async def test_a_blocking_call_on_the_loop_is_named(caplog: pytest.LogCaptureFixture) -> None:
    tracer = LoopStallTracer(threshold=0.1, interval=0.01)
    task = asyncio.create_task(tracer.run())
    try:
        await asyncio.sleep(0.05)
        with caplog.at_level(logging.WARNING, logger="wingman.realtime.stalls"):
            _blocking_step()
            await asyncio.sleep(0.1)  # the watchdog sees the loop run again and reports
            for _ in range(20):  # asyncio.sleep stays well under the threshold: no new stall
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    [(where, site)] = tracer.summary()
    assert where.endswith("_blocking_step") and "test_loop_stalls.py" in where
    assert site.count == 1 and 0.3 <= site.seconds <= 0.8
    assert "time.sleep(0.4)" in site.stack
    [record] = [r for r in caplog.records if r.getMessage() == "event loop stalled"]
    assert record.__dict__["where"] == where
