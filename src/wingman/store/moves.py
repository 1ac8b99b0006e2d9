"""Moving a tenant to another shard: `wingman shards move-tenant TENANT TARGET`.

1. Refuse while the tenant has a live call (an open call) on its shard.
2. Mark the placement `moving_to=TARGET` in the directory and wait twice the placement cache
   lifetime: every node then refuses the tenant's writes (TenantMoving: retried by the store
   writer, 503 from the API) while its reads go on from the source.
3. Check again for a live call (none can start now); if there is one, undo the mark and refuse.
4. Copy every row of the tenant to the target in one transaction, after deleting what an
   interrupted run may have left there; before committing, check that every source row is on
   the target and that the counts match.
5. Switch the placement to the target: one UPDATE in the directory.
6. Wait again (nodes stop reading the source), then delete the tenant from the source in one
   transaction, after checking once more that every row there is on the target.

Any failure leaves a state the same command resumes from: before step 5 it copies again;
after it (the tenant already on TARGET) it removes leftovers from the other shards, only rows
the target holds too.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wingman.errors import BadInput, NotFound, WingmanError
from wingman.events import utcnow
from wingman.store.models import Base, CallSession, TenantPlacement, User
from wingman.store.repos import Store
from wingman.store.routing import Router

# every table holding a tenant's rows, parents first (copy order; deletes go in reverse)
TENANT_TABLES = (
    "workspaces",  # the shard's copies of the workspace row and its members' user rows,
    "users",  # which the tenant's rows reference
    "call_sessions",
    "transcript_segments",
    "recommendations",
    "agent_runs",
    "key_moments",
    "action_items",
    "call_comments",
    "segment_sentiments",
    "summary_edits",
    "documents",
    "document_chunks",
    "vocabulary_terms",
    "company_profiles",
    "voiceprints",
    "crm_connections",  # the workspace's sealed CRM tokens and its calls' sync jobs
    "crm_syncs",
    "recording_settings",  # rows only: the audio files stay where the recordings store keeps them
    "recordings",
)
# never on a shard's books
DIRECTORY_TABLES = (
    "revoked_tokens", "auth_sessions", "workspace_placements", "invitations", "playbook_versions",
)
_BY_CALL = frozenset(
    {
        "transcript_segments", "recommendations", "agent_runs", "key_moments", "action_items",
        "call_comments", "segment_sentiments", "summary_edits",
    }
)
_SERIAL = frozenset({"key_moments", "action_items"})  # integer ids: the target numbers them
BATCH = 500

Progress = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]


class ShardMoveError(WingmanError):
    """A move stopped before it could lose anything; the message says what to do."""

    code = "shard_move"


@dataclass(frozen=True)
class MoveReport:
    tenant: str
    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)  # rows per table
    leftovers: dict[str, int] = field(default_factory=dict)  # rows removed by a resumed run


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _where(table: Table, tenant: str) -> ColumnElement[bool]:
    if table.name == "workspaces":
        return table.c.id == tenant
    if table.name in _BY_CALL:
        calls = select(CallSession.id).where(CallSession.workspace_id == tenant)
        return table.c.call_session_id.in_(calls)
    if "tenant_id" in table.c:  # keyed by the tenant id string, not by a user row
        return table.c.tenant_id == tenant
    if "workspace_id" in table.c:
        return table.c.workspace_id == tenant
    # a member's own rows (voiceprints): those of the workspace's users
    return table.c.user_id.in_(select(User.id).where(User.workspace_id == tenant))


async def _keys(conn: AsyncConnection, name: str, tenant: str) -> Counter[str]:
    """What identifies each row across databases: its id, or for serial ids its call."""
    table = _table(name)
    # the primary key's first column (voiceprints are keyed by their user)
    column = table.c.call_session_id if name in _SERIAL else next(iter(table.primary_key.columns))
    return Counter(r[0] for r in await conn.execute(select(column).where(_where(table, tenant))))


async def counts(conn: AsyncConnection, tenant: str) -> dict[str, int]:
    """Rows of `tenant` per table on this database."""
    out = {}
    for name in TENANT_TABLES:
        table = _table(name)
        query = select(func.count()).select_from(table).where(_where(table, tenant))
        out[name] = int((await conn.execute(query)).scalar_one())
    return out


async def _missing(src: AsyncConnection, dst: AsyncConnection, tenant: str) -> dict[str, int]:
    """Rows of `tenant` on `src` that `dst` does not hold, per table."""
    out = {}
    for name in TENANT_TABLES:
        lacking = (await _keys(src, name, tenant)) - (await _keys(dst, name, tenant))
        if lacking:
            out[name] = lacking.total()
    return out


async def _delete(conn: AsyncConnection, tenant: str) -> None:
    # explicit deletes, children first: SQLite's full-text triggers fire on each
    for name in reversed(TENANT_TABLES):
        table = _table(name)
        await conn.execute(delete(table).where(_where(table, tenant)))


async def _copy(
    src: AsyncConnection, dst: AsyncConnection, tenant: str, progress: Progress
) -> dict[str, int]:
    await _delete(dst, tenant)
    copied = {}
    for name in TENANT_TABLES:
        table = _table(name)
        columns = [c for c in table.c if not (name in _SERIAL and c.name == "id")]
        query = select(*columns).where(_where(table, tenant)).order_by(*table.primary_key.columns)
        result = await src.stream(query)
        copied[name] = 0
        async for rows in result.partitions(BATCH):
            await dst.execute(insert(table), [dict(row._mapping) for row in rows])
            copied[name] += len(rows)
        progress(f"copied {copied[name]} {name}")
    return copied


async def _copy_verified(
    src: AsyncEngine, dst: AsyncEngine, tenant: str, progress: Progress
) -> dict[str, int]:
    async with src.connect() as s, s.begin(), dst.begin() as d:
        copied = await _copy(s, d, tenant, progress)
        missing = await _missing(s, d, tenant)
        before, after = await counts(s, tenant), await counts(d, tenant)
        if missing or before != after or before != copied:
            # raising rolls the target back: nothing half-copied stays there
            raise ShardMoveError(f"copy check failed (missing {missing}, source {before}, target {after})")
    progress(f"verified {sum(copied.values())} rows on the target")
    return copied


async def _delete_verified(src: AsyncEngine, dst: AsyncEngine, tenant: str) -> dict[str, int]:
    """Delete the tenant from `src` if `dst` holds every one of its rows there; the rows deleted."""
    async with src.begin() as s, dst.connect() as d, d.begin():
        found = {k: v for k, v in (await counts(s, tenant)).items() if v}
        missing = await _missing(s, d, tenant)
        if missing:
            raise ShardMoveError(
                f"rows written to the old shard after the copy are not on the target: {missing}; "
                "they were kept, nothing was deleted"
            )
        await _delete(s, tenant)
    return found


async def _live_calls(engine: AsyncEngine, tenant: str) -> int:
    query = select(func.count()).where(CallSession.workspace_id == tenant, CallSession.end_time.is_(None))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _set_placement(engine: AsyncEngine, tenant: str, *, shard: str, moving_to: str | None) -> None:
    values = {"shard": shard, "moving_to": moving_to, "updated_at": utcnow()}
    async with engine.begin() as conn:
        done = await conn.execute(
            update(TenantPlacement).where(TenantPlacement.workspace_id == tenant).values(values)
        )
        if done.rowcount == 0:
            await conn.execute(insert(TenantPlacement).values(workspace_id=tenant, **values))


async def _switch(engine: AsyncEngine, tenant: str, target: str) -> None:
    values = {"shard": target, "moving_to": None, "updated_at": utcnow()}
    async with engine.begin() as conn:
        done = await conn.execute(
            update(TenantPlacement)
            .where(TenantPlacement.workspace_id == tenant, TenantPlacement.moving_to == target)
            .values(values)
        )
        if done.rowcount != 1:
            raise ShardMoveError("the placement changed during the move; run the command again")


async def _remove_leftovers(router: Router, tenant: str, home: str, progress: Progress) -> dict[str, int]:
    removed: Counter[str] = Counter()
    for name in router.shard_names:
        if name != home:
            found = await _delete_verified(router.shard(name).primary, router.shard(home).fresh(), tenant)
            if found:
                progress(f"removed {sum(found.values())} leftover rows from {name}")
            removed.update(found)
    return dict(removed)


async def _refuse_live(engine: AsyncEngine, tenant: str) -> None:
    live = await _live_calls(engine, tenant)
    if live:
        raise BadInput(
            f"the tenant has {live} live call(s): end them first (a call left open by a "
            "client or node that went away is finalized after WINGMAN_ABANDON_CALL_SECONDS / "
            "WINGMAN_ORPHAN_CALL_SECONDS)",
            code="live_call",
        )


async def move_tenant(
    store: Store,
    *,
    tenant: str,
    target: str,
    progress: Progress = lambda _: None,
    sleep: Sleep = asyncio.sleep,
) -> MoveReport:
    """Move every row of `tenant` (a workspace id) to shard `target`; see the module docstring."""
    router, placements = store.router, store.placements
    if not router.sharded:
        raise BadInput("no shards configured (WINGMAN_DATABASE_SHARDS)", code="no_shards")
    if target not in router.shard_names:
        raise BadInput(f"no shard {target!r}; shards: {', '.join(router.shard_names)}", code="no_shard")
    if await store.get_workspace(workspace_id=tenant) is None:
        raise NotFound(f"no workspace {tenant}")
    place = await placements.of(tenant, cached=False)
    source = place.shard or ""
    if source == target and place.moving_to is None:
        progress(f"{tenant} already lives on {target}; checking the other shards for leftovers")
        return MoveReport(
            tenant, source, target, leftovers=await _remove_leftovers(router, tenant, target, progress)
        )
    if place.moving_to not in (None, target):
        raise BadInput(
            f"a move to {place.moving_to} is in flight: run it again to finish it first", code="conflict"
        )
    origin = router.shard(source)
    await _refuse_live(origin.primary, tenant)
    await _set_placement(router.directory(), tenant, shard=source, moving_to=target)
    placements.forget(tenant)
    wait = 2 * placements.ttl
    progress(f"writes of {tenant} paused; waiting {wait:g} s for every node to see it")
    await sleep(wait)
    try:
        await _refuse_live(origin.primary, tenant)
    except BadInput:
        await _set_placement(router.directory(), tenant, shard=source, moving_to=None)
        raise
    copied = await _copy_verified(origin.primary, router.shard(target).primary, tenant, progress)
    await _switch(router.directory(), tenant, target)
    placements.forget(tenant)
    progress(f"{tenant} now lives on {target}; waiting {wait:g} s before deleting it from {source}")
    await sleep(wait)
    await _delete_verified(origin.primary, router.shard(target).fresh(), tenant)
    progress(f"deleted {sum(copied.values())} rows from {source}")
    return MoveReport(tenant, source, target, copied=copied)


@dataclass(frozen=True)
class ShardInfo:
    name: str
    replicas: int
    tenants: int  # workspace rows on the shard (read from a replica: may lag)
    moving_in: int  # moves to this shard in flight


async def shard_overview(store: Store) -> list[ShardInfo]:
    """Each shard with its tenant count: an operator listing, read from the replicas."""
    router = store.router
    async with (await router.directory_reader()).connect() as conn:
        moving = Counter(
            r[0]
            for r in await conn.execute(
                select(TenantPlacement.moving_to).where(TenantPlacement.moving_to.is_not(None))
            )
        )
    out = []
    for name in router.shard_names:
        engines = router.shard(name)
        async with (await engines.reader()).connect() as conn:
            tenants = int(
                (await conn.execute(select(func.count()).select_from(_table("workspaces")))).scalar_one()
            )
        out.append(ShardInfo(name, len(engines.replicas), tenants, moving[name]))
    return out
