"""Schema and engines: migrations (repeatable, concurrent, matching the models), SQLite
settings, PostgreSQL index use, and tenant shards."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.store_support import Clock, sqlite_url
from wingman.events import TranscriptFragment
from wingman.store.fulltext import search_condition
from wingman.store.models import Base, CallSession
from wingman.store.records import UserRecord, Viewer
from wingman.store.repos import MIGRATIONS, Store
from wingman.store.routing import shard_for


def _schema_diff(conn: Connection) -> list[Any]:
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        # SQLite's FTS5 virtual tables and their shadow tables are not models
        return not (type_ == "table" and name is not None and "_fts" in name)

    context = MigrationContext.configure(
        conn, opts={"include_object": include, "compare_type": True}
    )
    diff: list[Any] = compare_metadata(context, Base.metadata)
    # expression indexes (PostgreSQL full-text) are not models either
    return [d for d in diff if not (d[0] == "remove_index" and d[1].name.endswith("_fts"))]


async def test_migrations_are_repeatable_concurrent_and_match_the_models(db_url: str) -> None:
    stores = [Store(url=db_url), Store(url=db_url)]
    try:
        await asyncio.gather(*(s.migrate() for s in stores))  # two processes starting at once
        await stores[0].migrate()
        assert await stores[0].ping()
    finally:
        for s in stores:
            await s.aclose()
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).all() == [
                (_head(),)]
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def _head() -> str:
    """The newest migration shipped with the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _down_and_up(conn: Connection) -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    command.downgrade(config, "base")
    left = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
    command.upgrade(config, "head")
    return left


async def test_downgrade_removes_everything_and_upgrade_restores_it(db_url: str) -> None:
    store = Store(url=db_url)
    await store.migrate()
    await store.aclose()
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(_down_and_up) == []
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    try:
        for engine in (store.router.directory(), await store.router.shard(None).reader()):
            async with engine.connect() as conn:
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
                assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
    finally:
        await store.aclose()


async def test_concurrent_writers_on_sqlite_do_not_fail(tmp_path: Path) -> None:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    try:
        user = await store.ensure_local_user()
        calls = [await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title=f"c{i}") for i in range(4)]

        async def talk(call_id: str) -> None:
            for n in range(15):
                frag = TranscriptFragment(call_id=call_id, text=f"words {n}", is_final=True,
                                          start=n, end=n + 1)
                await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call_id,
                        fragment=frag)
                await store.list_calls(viewer=Viewer.own(user), q="words")

        await asyncio.gather(*(talk(c.id) for c in calls))
        for c in calls:
            assert len(await store.list_segments(viewer=Viewer.own(user), call_id=c.id)) == 15
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_postgres_search_uses_the_gin_indexes(postgres_url: str) -> None:
    store = Store(url=postgres_url)
    await store.migrate()
    await store.aclose()
    condition = search_condition("postgresql", "price")
    assert condition is not None
    query = select(CallSession.id).where(CallSession.user_id == "u", condition)
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(r[0] for r in await conn.execute(text("EXPLAIN " + sql)))
    finally:
        await engine.dispose()
    assert "ix_call_sessions_fts" in plan and "ix_transcript_segments_fts" in plan, plan
    assert "ix_summary_edits_fts" in plan, plan  # edited summaries (migration 0012)


async def test_tenants_live_on_their_own_shard(tmp_path: Path) -> None:
    shards = {name: sqlite_url(tmp_path / name) for name in ("shard-a", "shard-b")}
    store = Store(url=sqlite_url(tmp_path / "directory"), shards=shards, clock=Clock())
    await store.migrate()
    try:
        users: dict[str, UserRecord] = {}
        n = 0
        while len(users) < 2:  # one user on each shard
            u = await store.create_user(email=f"u{n}@example.com", name="u", password_hash=None)
            users.setdefault(shard_for(u.id, list(shards)), u)
            n += 1
        for shard, u in users.items():
            call = await store.create_call(workspace_id=u.workspace_id, user_id=u.id,
                    title=f"call on {shard}")
            frag = TranscriptFragment(call_id=call.id, text="price", is_final=True,
                                      start=0, end=1)
            assert await store.add_segment(workspace_id=u.workspace_id, user_id=u.id, call_id=call.id,
                    fragment=frag)
            assert [c.title for c in (await store.list_calls(viewer=Viewer.own(u), q="price")).items] == [
                f"call on {shard}"]
        for shard in shards:
            with sqlite3.connect(tmp_path / shard / "wingman.db") as db:
                titles = [r[0] for r in db.execute("SELECT title FROM call_sessions")]
            assert titles == [f"call on {shard}"]
        with sqlite3.connect(tmp_path / "directory" / "wingman.db") as db:
            assert db.execute("SELECT count(*) FROM call_sessions").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM users").fetchone() == (n,)
    finally:
        await store.aclose()
