"""Which database an operation goes to: primary vs read replica, and which tenant shard.

Layout:
- the *directory* database (`url`) holds users, revoked tokens and tenant placements, and every
  tenant's data when there are no shards;
- with shards, each tenant's calls, recommendations, segments, runs, documents and vocabulary
  live on one shard: the one its placement row names (after `wingman shards move-tenant`), else
  the one picked by a stable hash of the user id. Users are copied there so foreign keys hold;
- every database (the directory and each shard) has a primary and optional streaming replicas.
  Replicas serve the tenant reads that tolerate a little lag (history list and search, stats,
  agent runs); writes and everything a live call reads right after writing go to the primary.
  Directory reads stay on the directory primary: sign-in, token revocation and placements must
  never see a lagging copy (a revoked token accepted, a write sent to a tenant's old shard).
  The directory replica serves only listings for operators (`wingman shards list`).
  On PostgreSQL a replica serves only while it is close enough behind its primary, and a tenant
  that just wrote on this node reads from the primary until the replica has replayed that write
  (store/lag.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from wingman.errors import ConfigError
from wingman.settings import ShardUrls
from wingman.store.lag import LagLimits, ReadLsn, ReplicaLag, read_lsn

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
        private_database_file(Path(make_url(url).database or "").expanduser())
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # we issue BEGIN ourselves (below): pysqlite's implicit transactions are off
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that reads and then
        # writes fails with SQLITE_BUSY when another writer got in between, busy_timeout or not.
        conn.exec_driver_sql(begin)

    return engine


def private_database_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (its -wal and -shm files take the
    database file's mode) and tighten files left 0644 by older versions: transcripts are
    for this account only. A new parent directory is made 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _use_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (it stays so). Switching needs an exclusive lock, and
    SQLite answers "database is locked" at once, busy_timeout or not, when another process
    holds one (two processes creating the file together): so retry, within the busy timeout."""
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as e:  # the driver's OperationalError, as the async adapter raises it
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(0.02)  # blocks the loop 20 ms a try: only in start-up races on a new file


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


class ShardEngines:
    """One database: its primary, its replicas (with their lag, on PostgreSQL) and, for a
    SQLite file, a second engine on the same file."""

    def __init__(
        self,
        url: str,
        replica_urls: Sequence[str] = (),
        *,
        name: str = "directory",
        limits: LagLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        read: ReadLsn = read_lsn,
    ) -> None:
        self.primary = make_engine(url, writer=True)
        self.replicas = [make_engine(u, writer=False) for u in replica_urls]
        # SQLite: the primary's transactions take the write lock up front, so reads go through
        # connections whose BEGIN is deferred; in WAL they never wait for a writer and always
        # see every committed write
        self.same_file: AsyncEngine | None = None
        if make_url(url).get_backend_name() == "sqlite" and not is_sqlite_memory(url):
            self.same_file = make_engine(url, writer=False)
        self._next = itertools.count()
        # replay lag is measured on PostgreSQL only (SQLite "replicas" are other files: tests)
        self.lag: ReplicaLag | None = None
        if self.replicas and all(e.dialect.name == "postgresql" for e in self.engines()):
            self.lag = ReplicaLag(
                name=name,
                primary=self.primary,
                replicas=self.replicas,
                limits=limits or LagLimits(),
                clock=clock,
                read=read,
            )

    def fresh(self) -> AsyncEngine:
        """For reads that must see every committed write (never a replica)."""
        return self.same_file or self.primary

    async def reader(self, tenant: str | None = None) -> AsyncEngine:
        """For reads that tolerate lag: a replica (round robin over those close enough behind
        the primary and, for `tenant`, holding its writes from this node), else `fresh()`."""
        usable = self.replicas
        if self.lag is not None:
            await self.lag.refresh()
            usable = [r for i, r in enumerate(self.replicas) if self.lag.usable(i, tenant)]
        if not usable:
            return self.fresh()
        return usable[next(self._next) % len(usable)]

    def wrote(self, tenant: str) -> None:
        """`tenant` just committed a write on the primary: its reads follow (read-your-writes)."""
        if self.lag is not None:
            self.lag.note_write(tenant)

    def engines(self) -> Iterator[AsyncEngine]:
        yield self.primary
        if self.same_file is not None:
            yield self.same_file
        yield from self.replicas


def _shard_engines(name: str, spec: str | ShardUrls, **lag: Any) -> ShardEngines:
    if isinstance(spec, str):
        return ShardEngines(spec, name=name, **lag)
    return ShardEngines(spec.primary, spec.replicas, name=name, **lag)


class Router:
    """The engines of the directory and of each shard. Which shard holds a tenant is decided
    by the Store (store/placement.py): its placement row, else `home(tenant)`."""

    def __init__(
        self,
        *,
        url: str,
        replica_urls: Sequence[str] = (),
        shards: Mapping[str, str | ShardUrls] | None = None,
        lag_limits: LagLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        read: ReadLsn = read_lsn,
    ) -> None:
        lag: dict[str, Any] = {"limits": lag_limits, "clock": clock, "read": read}
        self._directory = ShardEngines(url, replica_urls, **lag)
        self._shards = {name: _shard_engines(name, spec, **lag) for name, spec in (shards or {}).items()}

    @property
    def sharded(self) -> bool:
        return bool(self._shards)

    @property
    def shard_names(self) -> list[str]:
        return sorted(self._shards)

    def home(self, tenant: str) -> str | None:
        """The hash shard of a tenant (None: no shards, the directory database holds it)."""
        return shard_for(tenant, list(self._shards)) if self._shards else None

    def shard(self, name: str | None) -> ShardEngines:
        """The engines of shard `name`; None is the directory database (the unsharded layout)."""
        if name is None:
            return self._directory
        found = self._shards.get(name)
        if found is None:
            raise ConfigError(f"shard {name!r} is not in WINGMAN_DATABASE_SHARDS")
        return found

    def directory(self) -> AsyncEngine:
        """Where users, revoked tokens and placements are written (the primary of `url`)."""
        return self._directory.primary

    def directory_fresh(self) -> AsyncEngine:
        """Reads of users, tokens and placements (never a lagging replica)."""
        return self._directory.fresh()

    async def directory_reader(self) -> AsyncEngine:
        """Operator listings that tolerate lag: a directory replica when one is close enough."""
        return await self._directory.reader()

    def primaries(self) -> list[AsyncEngine]:
        """Every primary (directory first): what migrations run on."""
        return [self._directory.primary, *(self._shards[n].primary for n in self.shard_names)]

    async def dispose(self) -> None:
        for cluster in (self._directory, *self._shards.values()):
            for engine in cluster.engines():
                await engine.dispose()
