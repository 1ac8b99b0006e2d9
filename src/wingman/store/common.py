"""Small helpers shared by the store's query modules."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.models import CallSession, Recommendation
from wingman.store.records import RecommendationRecord


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new. Idempotent writes use it so
    a retried or re-delivered event never fails and never duplicates."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return cast(CursorResult[Any], result).rowcount == 1


async def owns_call(session: AsyncSession, *, user_id: str, call_id: str) -> bool:
    """Whether `call_id` is a call of `user_id` (the tenant check before every child write)."""
    query = select(exists().where(CallSession.id == call_id, CallSession.user_id == user_id))
    return bool(await session.scalar(query))


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
