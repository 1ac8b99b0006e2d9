"""Fixtures of the store and API tests: `db_url` once per backend (SQLite, and PostgreSQL
marked `postgres`), a settable `clock`, and a migrated `store` on them; for the speech tests, one
local `engine` per module. A module that needs something else defines its own fixture of the
same name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.store_support import BACKENDS, Clock, backend_url, open_store
from wingman.store.repos import Store

if TYPE_CHECKING:
    from wingman.stt.local import LocalWhisperStt


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_url: str, clock: Clock) -> AsyncIterator[Store]:
    async for s in open_store(db_url, clock):
        yield s


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalWhisperStt]:
    """The local speech engine (tiny.en, default threads), imported only by the tests that use it."""
    from wingman.stt.local import LocalWhisperStt

    stt = LocalWhisperStt(model="tiny.en")
    yield stt
    stt.shutdown()
