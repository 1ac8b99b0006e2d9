"""Engine routing (primary, replicas, shards) and the full-text query builder: no database."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

from wingman.errors import ConfigError
from wingman.settings import Settings, ShardUrls
from wingman.store.fulltext import MAX_TOKENS, search_condition, tokenize
from wingman.store.lag import LagLimits
from wingman.store.routing import Router, is_sqlite_memory, shard_for


async def caught_up(_engine: object, _primary: bool) -> int:
    """Every server at the same WAL position: every replica may serve."""
    return 100


def test_shard_choice_is_stable_and_spreads_tenants() -> None:
    names = ["b", "a", "c"]
    tenants = [f"tenant-{i}" for i in range(300)]
    first = [shard_for(t, names) for t in tenants]
    assert first == [shard_for(t, list(reversed(names))) for t in tenants]  # order-independent
    assert all(count > 60 for count in Counter(first).values())
    with pytest.raises(ConfigError):
        shard_for("t", [])


async def test_router_picks_primary_replica_and_shard(tmp_path: Path) -> None:
    pg = "postgresql+asyncpg://u@127.0.0.1:5432/"
    router = Router(
        url=pg + "main",
        replica_urls=[pg + "r1", pg + "r2"],
        shards={"s1": pg + "s1", "s2": ShardUrls(primary=pg + "s2", replicas=(pg + "s2r1", pg + "s2r2"))},
        lag_limits=LagLimits(),
        read=caught_up,
    )
    try:
        assert router.sharded and router.shard_names == ["s1", "s2"]
        assert router.directory().url.database == "main"
        assert router.directory_fresh() is router.directory()  # sign-in, revocation: never lag
        assert (await router.directory_reader()).url.database in ("r1", "r2")
        assert router.home("ana") == shard_for("ana", ["s1", "s2"])
        s1, s2 = router.shard("s1"), router.shard("s2")
        assert await s1.reader() is s1.fresh() is s1.primary  # a shard without replicas
        assert s2.primary.url.database == "s2" and s2.fresh() is s2.primary
        assert {(await s2.reader()).url.database for _ in range(4)} == {"s2r1", "s2r2"}
        assert [e.url.database for e in router.primaries()] == ["main", "s1", "s2"]
        with pytest.raises(ConfigError):
            router.shard("s3")
    finally:
        await router.dispose()
    plain = Router(url=pg + "main", replica_urls=[pg + "r1", pg + "r2"], read=caught_up)
    try:
        assert plain.home("ana") is None and plain.shard(None).primary is plain.directory()
        assert {(await plain.shard(None).reader()).url.database for _ in range(4)} == {"r1", "r2"}
    finally:
        await plain.dispose()


def test_shards_are_urls_or_primary_and_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "WINGMAN_DATABASE_SHARDS",
        json.dumps(
            {
                "s1": "postgresql+asyncpg://h/s1",
                "s2": {"primary": "postgresql+asyncpg://h/s2", "replicas": ["postgresql+asyncpg://r/s2"]},
            }
        ),
    )
    monkeypatch.setenv("WINGMAN_KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("WINGMAN_KAFKA_REPLICATION", "3")
    settings = Settings()
    assert settings.database_shards == {
        "s1": "postgresql+asyncpg://h/s1",
        "s2": ShardUrls(primary="postgresql+asyncpg://h/s2", replicas=("postgresql+asyncpg://r/s2",)),
    }
    assert (settings.kafka_partitions, settings.kafka_replication) == (12, 3)
    monkeypatch.setenv("WINGMAN_DATABASE_SHARDS", json.dumps({"s1": {"primary": "x", "replica": "y"}}))
    with pytest.raises(ValidationError):  # a misspelt key is an error, not a shard without replica
        Settings()


async def test_sqlite_reads_use_their_own_engine_and_memory_databases_one(tmp_path: Path) -> None:
    router = Router(url=f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'w.db'}")
    try:
        assert (tmp_path / "sub").is_dir()  # the data directory is created
        engines = router.shard(None)
        assert await engines.reader() is engines.fresh() is not engines.primary
    finally:
        await router.dispose()
    memory = Router(url="sqlite+aiosqlite://")
    try:
        assert is_sqlite_memory("sqlite+aiosqlite:///:memory:")
        assert await memory.shard(None).reader() is memory.directory()
    finally:
        await memory.dispose()
    with pytest.raises(ConfigError):
        Router(url="mysql+aiomysql://u@h/db")


def test_tokenize_keeps_words_only() -> None:
    assert tokenize('  Aircall "pricing" AND (SOC-2)?  ') == ["aircall", "pricing", "soc", "2"]
    assert tokenize("the price of the PRICE") == ["price"]
    assert tokenize("'; DROP TABLE users; --") == ["drop", "table", "users"]
    assert tokenize("___ ... ") == []
    assert len(tokenize(" ".join(f"w{i}" for i in range(50)))) == MAX_TOKENS
    assert tokenize("x" * 65) == []


def test_search_condition_binds_user_text_as_parameters() -> None:
    assert search_condition("sqlite", "the ... of") is None
    for dialect, name, value in [
        (SQLiteDialect_aiosqlite(), "sqlite", '"price"*'),
        (PGDialect_asyncpg(), "postgresql", "price:*"),
    ]:  # type: ignore[no-untyped-call]
        condition = search_condition(name, "price; DROP")
        assert condition is not None
        compiled = condition.compile(dialect=dialect)
        assert "DROP" not in str(compiled) and "drop" not in str(compiled)
        assert value in compiled.params.values()


async def test_a_new_sqlite_file_locked_by_another_process_is_waited_for(tmp_path: Path) -> None:
    """Switching a file to WAL mode fails at once while another process holds a write lock
    (SQLite ignores busy_timeout there): two processes creating the database together."""
    import asyncio
    import sqlite3
    import threading

    from sqlalchemy import text

    from wingman.store.routing import make_engine

    path = tmp_path / "new.db"
    ready, done = threading.Event(), threading.Event()

    def other_process() -> None:  # holds a write lock for half a second, rollback journal
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("CREATE TABLE first_writer (x)")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO first_writer VALUES (1)")
        ready.set()
        done.wait(0.5)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=other_process)
    holder.start()
    ready.wait(5)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
    finally:
        done.set()
        await asyncio.to_thread(holder.join)
        await engine.dispose()
