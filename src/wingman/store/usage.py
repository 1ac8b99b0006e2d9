"""What the live-call quotas count, read from the store every gateway shares: the calls of a
user and of a workspace that are still open (started, not ended). A node that crashes leaves
its calls open until the periodic orphan sweep finalizes them (realtime/upkeep.py), so its
calls stop counting then: nothing is leaked for good."""

from __future__ import annotations

from sqlalchemy import func, select

from wingman.store.core import StoreCore
from wingman.store.models import CallSession


async def open_calls(store: StoreCore, *, workspace_id: str, user_id: str) -> tuple[int, int]:
    """(the user's, the workspace's) calls without an end time, on every node."""
    async with store.tenant_tx(workspace_id, write=False) as s:
        rows = (await s.execute(
            select(CallSession.user_id, func.count())
            .where(CallSession.workspace_id == workspace_id, CallSession.end_time.is_(None))
            .group_by(CallSession.user_id)
        )).all()
    counts = {str(user): int(n) for user, n in rows}
    return counts.get(user_id, 0), sum(counts.values())
