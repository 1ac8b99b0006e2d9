"""Fixtures and helpers for the store and API tests: one Store per backend, an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wingman.store.repos import Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class Clock:
    """A settable clock: `clock()` is the current time, `advance()` moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2025, 11, 26, 15, 0, tzinfo=UTC)  # a Wednesday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'wingman.db'}"


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


async def open_store(url: str, clock: Clock) -> AsyncIterator[Store]:
    store = Store(url=url, clock=clock)
    await store.migrate()
    try:
        yield store
    finally:
        await store.aclose()
