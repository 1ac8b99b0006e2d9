"""Which database an operation goes to: primary vs read replica, and which tenant shard.

Layout:
- the *directory* database (`url`) holds users and revoked tokens, and every tenant's data when
  there are no shards;
- with shards, each tenant's calls, recommendations, segments, runs and documents live on one
  shard picked by a stable hash of the user id (users are copied there so foreign keys hold);
- replicas serve reads that tolerate a little lag (history, stats); everything a live call reads
  right after writing goes to the primary.
Only the single-database layout is exercised in production today; the rest is configuration.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from wingman.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def is_sqlite_memory(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or "mode=memory" in url


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    memory = is_sqlite_memory(url)
    kwargs: dict[str, Any] = {}
    if memory:
        kwargs["poolclass"] = StaticPool  # one connection, or every connection is a new database
    else:
        Path(make_url(url).database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # we issue BEGIN ourselves (below): pysqlite's implicit transactions are off
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that reads and then
        # writes fails with SQLITE_BUSY when another writer got in between, busy_timeout or not.
        conn.exec_driver_sql(begin)

    return engine


def make_engine(url: str, *, writer: bool = True) -> AsyncEngine:
    """An async engine with our per-backend settings (SQLite pragmas, PostgreSQL pool checks)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, writer=writer)
    if backend == "postgresql":
        connect_args: dict[str, Any] = {}
        if make_url(url).query.get("prepared_statement_cache_size") == "0":
            # Behind PgBouncer in transaction pooling mode a server connection is shared between
            # clients, so no prepared statement may outlive its transaction: with both caches
            # off (asyncpg's here, SQLAlchemy's by the URL) statements stay unnamed.
            connect_args = {"statement_cache_size": 0}
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args
        )
    raise ConfigError(f"unsupported database URL scheme {backend!r}: use sqlite or postgresql")


def shard_for(tenant: str, shard_names: Sequence[str]) -> str:
    """The shard of a tenant: stable across processes and restarts (crc32, not hash())."""
    if not shard_names:
        raise ConfigError("no shards configured")
    ordered = sorted(shard_names)
    return ordered[zlib.crc32(tenant.encode()) % len(ordered)]


class _Cluster:
    """One primary, its replicas and, for a SQLite file, a second engine on the same file."""

    def __init__(self, url: str, replica_urls: Sequence[str]) -> None:
        self.primary = make_engine(url, writer=True)
        self.replicas = [make_engine(u, writer=False) for u in replica_urls]
        # SQLite: the primary's transactions take the write lock up front, so reads go through
        # connections whose BEGIN is deferred; in WAL they never wait for a writer and always
        # see every committed write
        self.same_file: AsyncEngine | None = None
        if make_url(url).get_backend_name() == "sqlite" and not is_sqlite_memory(url):
            self.same_file = make_engine(url, writer=False)
        self._next = itertools.cycle(range(len(self.replicas))) if self.replicas else None

    def fresh(self) -> AsyncEngine:
        return self.same_file or self.primary

    def reader(self) -> AsyncEngine:
        if self._next is None:
            return self.fresh()
        return self.replicas[next(self._next)]

    def engines(self) -> Iterator[AsyncEngine]:
        yield self.primary
        if self.same_file is not None:
            yield self.same_file
        yield from self.replicas


class Router:
    """Chooses the engine for an operation on a tenant's data: `writer` (writes), `fresh`
    (reads that must see the latest writes), `reader` (reads that tolerate replica lag); and
    `directory` / `directory_fresh` for users and tokens."""

    def __init__(
        self, *, url: str, replica_urls: Sequence[str] = (), shards: Mapping[str, str] | None = None
    ) -> None:
        self._directory = _Cluster(url, replica_urls)
        # shard replicas are not configurable yet: a shard is its own primary
        self._shards = {name: _Cluster(u, ()) for name, u in (shards or {}).items()}

    @property
    def sharded(self) -> bool:
        return bool(self._shards)

    def _cluster(self, tenant: str) -> _Cluster:
        if not self._shards:
            return self._directory
        return self._shards[shard_for(tenant, list(self._shards))]

    def directory(self) -> AsyncEngine:
        """Where users and revoked tokens live (the primary of `url`)."""
        return self._directory.primary

    def directory_fresh(self) -> AsyncEngine:
        """Reads of users and tokens (never a lagging replica)."""
        return self._directory.fresh()

    def writer(self, tenant: str) -> AsyncEngine:
        """The primary holding `tenant`'s data."""
        return self._cluster(tenant).primary

    def fresh(self, tenant: str) -> AsyncEngine:
        """For reads of `tenant`'s data that must see every committed write (never a replica)."""
        return self._cluster(tenant).fresh()

    def reader(self, tenant: str) -> AsyncEngine:
        """A replica (round robin) holding `tenant`'s data, else the same as `fresh`."""
        return self._cluster(tenant).reader()

    def primaries(self) -> list[AsyncEngine]:
        """Every primary (directory first): what migrations run on."""
        return [self._directory.primary, *(c.primary for c in self._shards.values())]

    async def dispose(self) -> None:
        for cluster in (self._directory, *self._shards.values()):
            for engine in cluster.engines():
                await engine.dispose()
