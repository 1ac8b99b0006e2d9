"""`StoreCore`: the engines behind the Store and the transactions every query runs in
(which shard holds a tenant, primary or replica, read-your-writes). The query facades
(repos.Store and the mixins it is made of) build on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Self

from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wingman.events import utcnow
from wingman.store import accounts
from wingman.store.lag import LagLimits
from wingman.store.maintenance import upgrade
from wingman.store.placement import Placement, Placements, TenantMoving
from wingman.store.records import UserRecord
from wingman.store.routing import Router, ShardEngines

if TYPE_CHECKING:
    from wingman.settings import Settings, ShardUrls


class StoreCore:
    """Engines, placements and transactions; no queries of its own."""

    def __init__(
        self,
        *,
        url: str,
        replica_urls: Sequence[str] = (),
        shards: Mapping[str, str | ShardUrls] | None = None,
        clock: Callable[[], datetime] = utcnow,
        placement_ttl: float = 5.0,
        lag_limits: LagLimits | None = None,
    ) -> None:
        self._router = Router(url=url, replica_urls=replica_urls, shards=shards, lag_limits=lag_limits)
        self.placements = Placements(router=self._router, ttl=placement_ttl)
        self._clock = clock
        self._makers: dict[int, async_sessionmaker[AsyncSession]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The Store the settings describe (directory, replicas, shards, placement cache)."""
        return cls(
            url=settings.effective_database_url,
            replica_urls=tuple(settings.database_replica_urls),
            shards=dict(settings.database_shards),
            placement_ttl=settings.placement_cache_seconds,
            lag_limits=LagLimits(
                check_seconds=settings.replica_check_seconds,
                max_seconds=settings.max_replica_lag_seconds,
                max_bytes=settings.max_replica_lag_bytes,
            ),
        )

    @property
    def router(self) -> Router:
        """The engines of the directory and of every shard (maintenance and shard moves)."""
        return self._router

    async def _engines(self, tenant: str) -> tuple[Placement, ShardEngines]:
        placement = await self.placements.of(tenant)
        return placement, self._router.shard(placement.shard)

    async def _writer(self, tenant: str) -> ShardEngines:
        """The database holding `tenant`'s data; TenantMoving while it is copied elsewhere."""
        placement, engines = await self._engines(tenant)
        if placement.moving_to is not None:
            raise TenantMoving("this account is being moved to another database; retry shortly")
        return engines

    @asynccontextmanager
    async def _write(self, tenant: str) -> AsyncIterator[AsyncSession]:
        """A transaction on `tenant`'s primary, after which its reads see it (read-your-writes)."""
        engines = await self._writer(tenant)
        try:
            async with self._tx(engines.primary) as s:
                yield s
        finally:  # even on an error: the commit may have reached the server
            engines.wrote(tenant)

    async def _fresh(self, tenant: str) -> AsyncEngine:
        """For reads of `tenant`'s data that must see every committed write (never a replica)."""
        return (await self._engines(tenant))[1].fresh()

    async def _reader(self, tenant: str) -> AsyncEngine:
        """For reads that tolerate lag (history, search, stats): a replica of the tenant's shard
        that is close enough behind and has replayed the tenant's writes from this node."""
        return await (await self._engines(tenant))[1].reader(tenant)

    @asynccontextmanager
    async def _tx(self, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
        maker = self._makers.get(id(engine))
        if maker is None:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            self._makers[id(engine)] = maker
        async with maker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def tenant_tx(self, tenant: str, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A transaction on `tenant`'s database for the query modules beside this facade
        (store/crm.py ...): on its primary when `write`, else a read that sees every write."""
        if write:
            async with self._write(tenant) as s:
                yield s
        else:
            async with self._tx(await self._fresh(tenant)) as s:
                yield s

    async def each_primary(self) -> AsyncIterator[AsyncSession]:
        """One transaction per primary database in turn (maintenance across tenants only)."""
        for engine in self._router.primaries():
            async with self._tx(engine) as s:
                yield s

    # -- lifecycle
    async def migrate(self) -> None:
        """Create or upgrade the schema (Alembic, to head) on every primary database."""
        for engine in self._router.primaries():
            async with engine.begin() as conn:
                await conn.run_sync(upgrade)

    async def aclose(self) -> None:
        """Close every connection pool."""
        await self._router.dispose()

    async def ping(self) -> bool:
        """Whether the directory database answers."""
        try:
            async with self._router.directory().connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (exc.SQLAlchemyError, OSError):
            return False
        return True

    async def _copy_user_to_shard(self, user: UserRecord) -> None:
        # tenant rows reference users(id): the workspace's shard keeps a copy of its workspace
        # row and of each member's user row
        engine = (await self._writer(user.workspace_id)).primary
        if engine is not self._router.directory():
            async with self._tx(self._router.directory_fresh()) as s:
                workspace = await accounts.get_workspace(s, user.workspace_id)
            async with self._tx(engine) as s:
                if workspace is not None:
                    await accounts.insert_workspace(s, workspace)
                await accounts.insert_user(s, user)
