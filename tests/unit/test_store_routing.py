"""Engine routing (primary, replicas, shards) and the full-text query builder: no database."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

from wingman.errors import ConfigError
from wingman.store.fulltext import MAX_TOKENS, search_condition, tokenize
from wingman.store.routing import Router, is_sqlite_memory, shard_for


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
    router = Router(url=pg + "main", replica_urls=[pg + "r1", pg + "r2"],
                    shards={"s1": pg + "s1", "s2": pg + "s2"})
    try:
        assert router.sharded
        assert router.directory().url.database == "main"
        shard = shard_for("ana", ["s1", "s2"])
        assert router.writer("ana").url.database == shard
        assert router.reader("ana").url.database == shard  # shards have no replicas yet
        assert [e.url.database for e in router.primaries()] == ["main", "s1", "s2"]
    finally:
        await router.dispose()
    plain = Router(url=pg + "main", replica_urls=[pg + "r1", pg + "r2"])
    try:
        assert plain.writer("ana") is plain.directory() is plain.fresh("ana")
        assert {plain.reader("ana").url.database for _ in range(4)} == {"r1", "r2"}
    finally:
        await plain.dispose()


async def test_sqlite_reads_use_their_own_engine_and_memory_databases_one(tmp_path: Path) -> None:
    router = Router(url=f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'w.db'}")
    try:
        assert (tmp_path / "sub").is_dir()  # the data directory is created
        assert router.reader("t") is router.fresh("t") is not router.writer("t")
    finally:
        await router.dispose()
    memory = Router(url="sqlite+aiosqlite://")
    try:
        assert is_sqlite_memory("sqlite+aiosqlite:///:memory:")
        assert memory.reader("t") is memory.writer("t")
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
    for dialect, name, value in [(SQLiteDialect_aiosqlite(), "sqlite", '"price"*'),
                                 (PGDialect_asyncpg(), "postgresql", "price:*")]:  # type: ignore[no-untyped-call]
        condition = search_condition(name, "price; DROP")
        assert condition is not None
        compiled = condition.compile(dialect=dialect)
        assert "DROP" not in str(compiled) and "drop" not in str(compiled)
        assert value in compiled.params.values()
