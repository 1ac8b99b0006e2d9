"""Where a tenant's (workspace's) data lives: its row in the directory's `workspace_placements`, else its hash
shard, cached per process for `ttl` seconds.

The cache is what makes a move safe without a lock on every write: `wingman shards move-tenant`
first marks the tenant as moving, then waits longer than `ttl`, after which every node has
re-read the placement and refuses the tenant's writes (TenantMoving, retryable) until the copy
is switched over; reads keep going to the old shard until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.errors import ProviderConnectionError
from wingman.events import utcnow
from wingman.store.models import TenantPlacement, Workspace
from wingman.store.routing import Router

MAX_CACHED = 50_000


class TenantMoving(ProviderConnectionError):
    """The tenant's data is being copied to another shard: writes wait (retry in a moment)."""

    code = "tenant_moving"


@dataclass(frozen=True)
class Placement:
    """`shard` holds the tenant's data (None: the unsharded directory database); `moving_to`
    is set while a move to that shard is in flight."""

    shard: str | None
    moving_to: str | None = None


class Placements:
    """Tenant -> Placement, read from the directory primary and cached for `ttl` seconds."""

    def __init__(self, *, router: Router, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._router = router
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Placement]] = {}

    async def of(self, tenant: str, *, cached: bool = True) -> Placement:
        """Where `tenant` lives now (at most `ttl` seconds old unless `cached` is False)."""
        if not self._router.sharded:
            return Placement(shard=None)
        now = self._clock()
        hit = self._cache.get(tenant)
        if cached and hit is not None and hit[0] > now:
            return hit[1]
        async with self._router.directory_fresh().connect() as conn:
            row = (
                await conn.execute(
                    select(TenantPlacement.shard, TenantPlacement.moving_to).where(
                        TenantPlacement.workspace_id == tenant
                    )
                )
            ).first()
        found = Placement(shard=row[0], moving_to=row[1]) if row else Placement(self._router.home(tenant))
        if self.ttl > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[tenant] = (now + self.ttl, found)
        return found

    def forget(self, tenant: str) -> None:
        """Drop the cached placement (this process just changed it)."""
        self._cache.pop(tenant, None)


# -- pinning: every tenant's shard written down, so adding a shard (which changes the hash of
# most tenants) never sends a tenant's reads to a shard that does not hold its history


async def pin(session: AsyncSession, *, tenant: str, shard: str) -> None:
    """Record a new tenant's shard (in the transaction that creates the tenant)."""
    session.add(TenantPlacement(workspace_id=tenant, shard=shard, moving_to=None, updated_at=utcnow()))


async def pin_all(router: Router) -> int:
    """Write the current (hash) shard of every tenant that has no placement row yet; run
    before adding a shard to WINGMAN_DATABASE_SHARDS. Returns how many rows were written."""
    if not router.sharded:
        return 0
    async with router.directory().begin() as conn:
        unpinned = (
            await conn.execute(
                select(Workspace.id).where(~select(TenantPlacement.workspace_id).where(
                    TenantPlacement.workspace_id == Workspace.id).exists())
            )
        ).scalars().all()
        for tenant in unpinned:
            home = router.home(tenant)
            assert home is not None
            await conn.execute(insert(TenantPlacement).values(
                workspace_id=tenant, shard=home, moving_to=None, updated_at=utcnow()))
    return len(unpinned)
