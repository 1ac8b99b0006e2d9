"""Small helpers shared by the store's query modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, exists, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.models import CallSession, Recommendation
from wingman.store.records import RecommendationRecord, Viewer

# conditions on CallSession that select the calls an operation may touch
Scope = Sequence[ColumnElement[bool]]


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new. Idempotent writes use it so
    a retried or re-delivered event never fails and never duplicates."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return cast(CursorResult[Any], result).rowcount == 1


async def insert_for_call(
    session: AsyncSession,
    table: Table,
    values: dict[str, Any],
    *,
    workspace_id: str,
    user_id: str,
    call_id: str,
) -> bool:
    """`insert_ignore` of a call's child row, only if `call_id` is a call of `user_id` in
    `workspace_id` (the tenant check): INSERT ... SELECT ... WHERE EXISTS, one statement where
    a separate check and insert took two round trips per segment, sentiment and insight."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    row = select(*[literal(v, type_=table.c[k].type).label(k) for k, v in values.items()]).where(
        exists().where(CallSession.id == call_id, *owned(workspace_id, user_id))
    )
    result = await session.execute(insert(table).from_select(list(values), row).on_conflict_do_nothing())
    return cast(CursorResult[Any], result).rowcount == 1


def owned(workspace_id: str, user_id: str) -> list[ColumnElement[bool]]:
    """The calls of one user in one workspace (what a rep writes to: their own calls)."""
    return [CallSession.workspace_id == workspace_id, CallSession.user_id == user_id]


def visible(viewer: Viewer) -> list[ColumnElement[bool]]:
    """The calls `viewer` may read: the workspace's, narrowed to their own and their team's
    unless they see everyone."""
    where = [CallSession.workspace_id == viewer.workspace_id]
    if not viewer.everyone:
        where.append(CallSession.user_id.in_(sorted({viewer.user_id, *viewer.team})))
    return where


def recommendation_record(row: Recommendation) -> RecommendationRecord:
    return RecommendationRecord(
        id=row.id,
        call_session_id=row.call_session_id,
        content=row.content,
        category=row.category,
        context_snippet=row.context_snippet,
        feedback_status=row.feedback_status.value,
        created_at=row.created_at,
        agent=row.agent,
        kind=row.kind,
        source=row.source,
        entity=row.entity,
        confidence=row.confidence,
        block_id=row.block_id,
    )
