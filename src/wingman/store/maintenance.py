"""Maintenance that spans tenants: schema migrations, retention and finalizing orphaned calls.

These are the only store queries not scoped to one user: they run from the server's own
background tasks and the `wingman retention` command, never on behalf of a request.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.models import (
    ActionItemRow,
    AgentRunRow,
    CallSession,
    CrmSyncRow,
    KeyMomentRow,
    Recommendation,
    SegmentSentimentRow,
    TranscriptSegment,
)

# every table whose rows belong to one call (deleting a call deletes these first)
CALL_CHILDREN = (TranscriptSegment, Recommendation, AgentRunRow, KeyMomentRow, ActionItemRow, CrmSyncRow,
                 SegmentSentimentRow)
MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x57494E47  # pg advisory lock key: concurrent processes migrate one at a time


def upgrade(connection: Connection) -> None:
    """Alembic upgrade to head on `connection`, one process at a time on PostgreSQL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    command.upgrade(config, "head")


async def purge_calls_before(session: AsyncSession, *, cutoff: datetime) -> int:
    """Delete calls that started before `cutoff` and everything attached; returns how many."""
    old = select(CallSession.id).where(CallSession.start_time < cutoff).scalar_subquery()
    # the foreign keys cascade too; deleting children first does not depend on that
    for model in CALL_CHILDREN:
        await session.execute(delete(model).where(model.call_session_id.in_(old)))
    result = await session.execute(delete(CallSession).where(CallSession.start_time < cutoff))
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def idle_open_calls(session: AsyncSession, *, idle_since: datetime) -> list[tuple[str, str, str]]:
    """(workspace_id, user_id, call_id) of calls never ended that started before `idle_since`
    and got no transcript segment since then."""
    active = select(TranscriptSegment.call_session_id).where(TranscriptSegment.created_at >= idle_since)
    rows = await session.execute(
        select(CallSession.workspace_id, CallSession.user_id, CallSession.id).where(
            CallSession.end_time.is_(None),
            CallSession.start_time < idle_since,
            CallSession.id.not_in(active),
        )
    )
    return [(str(w), str(u), str(c)) for w, u, c in rows]
