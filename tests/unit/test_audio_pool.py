"""AudioWorkerPool: CPU work runs on worker threads, never on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from wingman.audio.pool import AudioWorkerPool
from wingman.errors import WingmanError


async def test_run_happens_off_the_event_loop_thread() -> None:
    pool = AudioWorkerPool(max_workers=2)
    try:
        loop_thread = threading.get_ident()
        ident = await pool.run(threading.get_ident)
        assert ident != loop_thread
        assert await pool.run(divmod, 17, 5) == (3, 2)
    finally:
        await pool.aclose()


async def test_exceptions_come_back_to_the_caller() -> None:
    pool = AudioWorkerPool(max_workers=1)
    try:
        with pytest.raises(ZeroDivisionError):
            await pool.run(divmod, 1, 0)
    finally:
        await pool.aclose()


async def test_runs_up_to_max_workers_at_once_and_the_loop_stays_free() -> None:
    pool = AudioWorkerPool(max_workers=2)
    both_in = threading.Barrier(2, timeout=5)
    try:
        # two jobs that only finish when both are running at the same time
        jobs = [asyncio.ensure_future(pool.run(both_in.wait)) for _ in range(2)]
        ticks = 0
        while not all(j.done() for j in jobs):
            await asyncio.sleep(0)  # the loop keeps turning while the workers block
            ticks += 1
        assert sorted(await asyncio.gather(*jobs)) == [0, 1]
        assert ticks > 0
    finally:
        await pool.aclose()


async def test_no_work_after_shutdown() -> None:
    pool = AudioWorkerPool(max_workers=1)
    await pool.aclose()
    assert pool.closed
    with pytest.raises(WingmanError):
        await pool.run(int, "1")
    pool.shutdown()  # idempotent


def test_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        AudioWorkerPool(max_workers=0)
