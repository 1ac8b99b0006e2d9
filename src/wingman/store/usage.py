"""What the live-call quotas count, read from the store every gateway shares: the calls of a
user and of a workspace that are still open (started, not ended). A node that crashes leaves
its calls open until the periodic orphan sweep finalizes them (realtime/upkeep.py), so its
calls stop counting then: nothing is leaked for good.

Taking a slot is atomic across nodes: `Store.create_call(..., admit=...)` counts the open
calls and inserts the new one in one transaction on the workspace's primary, serialized per
workspace (`lock_open_calls`), so two starts at the same instant cannot both take the last slot."""

from __future__ import annotations

import zlib

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.common import dialect_of
from wingman.store.core import StoreCore
from wingman.store.models import CallSession

_LOCK_SPACE = 0x57494E43  # pg advisory lock namespace ("WINC"): one lock per workspace's call slots


async def lock_open_calls(session: AsyncSession, workspace_id: str) -> None:
    """Inside a write transaction: wait until no other transaction counts or takes this
    workspace's call slots. PostgreSQL: a transaction-scoped advisory lock per workspace;
    SQLite: its writers hold the write lock from BEGIN IMMEDIATE already."""
    if dialect_of(session) == "postgresql":
        key = zlib.crc32(workspace_id.encode()) - 2**31  # int4, as the two-key form wants
        await session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                              {"space": _LOCK_SPACE, "key": key})


async def count_open_calls(session: AsyncSession, *, workspace_id: str, user_id: str) -> tuple[int, int]:
    """(the user's, the workspace's) calls without an end time, on every node."""
    rows = (await session.execute(
        select(CallSession.user_id, func.count())
        .where(CallSession.workspace_id == workspace_id, CallSession.end_time.is_(None))
        .group_by(CallSession.user_id)
    )).all()
    counts = {str(user): int(n) for user, n in rows}
    return counts.get(user_id, 0), sum(counts.values())


async def open_calls(store: StoreCore, *, workspace_id: str, user_id: str) -> tuple[int, int]:
    """(the user's, the workspace's) open calls, read outside any start."""
    async with store.tenant_tx(workspace_id, write=False) as s:
        return await count_open_calls(s, workspace_id=workspace_id, user_id=user_id)
