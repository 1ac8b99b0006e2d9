"""Replica lag handling (store/lag.py through ShardEngines.reader): which engine serves a
lag-tolerant read, with a fake clock and scripted WAL positions instead of servers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from wingman.store.lag import LagLimits
from wingman.store.routing import ShardEngines

PG = "postgresql+asyncpg://u@127.0.0.1:5432/"
Make = Callable[..., ShardEngines]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Wal:
    """Scripted answers of the lag check: WAL position per database name (None: not a
    standby, an exception: the server fails, "hang": it never answers)."""

    def __init__(self, **positions: int | None | BaseException | str) -> None:
        self.at = dict(positions)
        self.calls = 0

    async def __call__(self, engine: AsyncEngine, primary: bool) -> int | None:
        self.calls += 1
        value = self.at[str(engine.url.database)]
        if value == "hang":
            await asyncio.Event().wait()
        if isinstance(value, BaseException):
            raise value
        assert not isinstance(value, str)
        return value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make(clock: Clock) -> AsyncIterator[Callable[..., ShardEngines]]:
    made: list[ShardEngines] = []

    def build(wal: Wal, replicas: int = 2, **limits: Any) -> ShardEngines:
        engines = ShardEngines(
            PG + "p",
            [PG + f"r{i}" for i in range(1, replicas + 1)],
            name="s",
            limits=LagLimits(**limits),
            clock=clock,
            read=wal,
        )
        made.append(engines)
        return engines

    yield build
    for engines in made:
        for engine in engines.engines():
            await engine.dispose()


async def served(engines: ShardEngines, tenant: str | None = None, n: int = 4) -> set[str]:
    return {str((await engines.reader(tenant)).url.database) for _ in range(n)}


async def test_replica_behind_by_bytes_is_skipped_until_it_catches_up(make: Make, clock: Clock) -> None:
    wal = Wal(p=10_000, r1=10_000, r2=10_000)
    engines = make(wal, max_bytes=1_000)
    assert await served(engines) == {"r1", "r2"}  # round robin over the healthy ones
    wal.at.update(p=20_000, r1=20_000)  # r2 stops replaying
    calls = wal.calls
    assert await served(engines, n=20) == {"r1", "r2"}  # checked at most every check_seconds ...
    assert wal.calls == calls  # ... never per query
    clock.now = 1.0
    assert await served(engines) == {"r1"}
    assert engines.lag is not None and engines.lag.lag(1) == (10_000, 0.0)
    wal.at.update(p=30_000)  # both behind: the primary serves
    clock.now = 2.0
    assert await served(engines) == {"p"}
    wal.at.update(r1=30_000, r2=29_500)  # within 1,000 bytes again
    clock.now = 3.0
    assert await served(engines) == {"r1", "r2"}


async def test_seconds_behind_count_from_the_first_position_not_replayed(make: Make, clock: Clock) -> None:
    wal = Wal(p=100, r1=100)
    engines = make(wal, replicas=1, max_seconds=5.0, max_bytes=1 << 40)
    assert await served(engines) == {"r1"}
    clock.now = 1.0
    wal.at["p"] = 200  # the primary moves on, r1's replay is paused at 100
    for t in range(1, 7):
        clock.now = float(t)
        assert await served(engines) == {"r1"}, t  # behind by t - 1 s: within 5 s
        wal.at["p"] = 100 + 100 * t
    clock.now = 7.0
    assert await served(engines) == {"p"}  # WAL written at t=1 still missing 6 s later
    wal.at["r1"] = wal.at["p"]
    clock.now = 8.0
    assert await served(engines) == {"r1"}


async def test_an_idle_primary_never_makes_a_replica_look_behind(make: Make, clock: Clock) -> None:
    # (unlike now() - pg_last_xact_replay_timestamp(), which grows while nothing is written)
    wal = Wal(p=500, r1=500)
    engines = make(wal, replicas=1, max_seconds=1.0)
    for t in (0.0, 10.0, 600.0, 3600.0):
        clock.now = t
        assert await served(engines) == {"r1"}


async def test_a_tenant_reads_its_own_writes_from_the_primary_until_replayed(
    make: Make, clock: Clock
) -> None:
    wal = Wal(p=100, r1=100, r2=100)
    engines = make(wal, max_seconds=60.0, max_bytes=1 << 40)
    assert await served(engines, "ana") == {"r1", "r2"}
    clock.now = 0.5
    engines.wrote("ana")  # committed at 0.5, after the last primary sample (t=0)
    assert await served(engines, "ana") == {"p"}
    assert await served(engines, "bob") == {"r1", "r2"}  # other tenants are not affected
    assert await served(engines) == {"r1", "r2"}
    clock.now = 1.0
    wal.at["p"] = 150  # the first sample after the write: 150 covers its commit
    assert await served(engines, "ana") == {"p"}  # neither replica has replayed it yet
    clock.now = 2.0
    wal.at.update(p=400, r1=150)  # r1 has the write (not yet what came after), r2 does not
    assert await served(engines, "ana") == {"r1"}
    assert await served(engines, "bob") == {"r1", "r2"}
    clock.now = 3.0
    wal.at["r2"] = 400
    assert await served(engines, "ana") == {"r1", "r2"}


async def test_failed_checks_send_reads_to_the_primary_and_log_once(
    make: Make, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    wal = Wal(p=100, r1=100, r2=OSError("connection refused"))
    engines = make(wal, timeout_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="wingman.store.lag"):
        for t in range(5):
            clock.now = float(t)
            assert await served(engines) == {"r1"}  # r2 down
        wal.at["r1"] = "hang"  # r1 stops answering: the check gives up after timeout_seconds
        clock.now = 5.0
        assert await asyncio.wait_for(served(engines), 2.0) == {"p"}
        wal.at["r1"] = None  # promoted, no longer a standby: no replay position
        clock.now = 6.0
        assert await served(engines) == {"p"}
        wal.at.update(r1=100, r2=100, p=ConnectionError("primary down"))  # lag cannot be known
        clock.now = 7.0
        assert await served(engines) == {"p"}
        wal.at["p"] = 100
        clock.now = 8.0
        assert await served(engines) == {"r1", "r2"}
    said = [(r.getMessage(), getattr(r, "replica", "")[-2:]) for r in caplog.records]
    assert said == [
        ("replica check failed", "r2"),  # once, not once per check
        ("replica check failed", "r1"),
        ("replica caught up", "r1"),
        ("replica caught up", "r2"),
    ]


async def test_no_lag_checks_without_postgresql_replicas(tmp_path: Path, clock: Clock) -> None:
    wal = Wal()
    for engines in (
        ShardEngines(PG + "p", clock=clock, read=wal),
        ShardEngines(
            f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
            [f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"],
            clock=clock,
            read=wal,
        ),
    ):
        try:
            assert engines.lag is None
            engines.wrote("ana")
            first = await engines.reader("ana")
            assert first is (engines.replicas[0] if engines.replicas else engines.primary)
        finally:
            for engine in engines.engines():
                await engine.dispose()
    assert wal.calls == 0
