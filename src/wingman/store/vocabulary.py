"""Queries on a workspace's own vocabulary terms (tenant-scoped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.events import new_id
from wingman.store.models import VocabularyTerm


async def list_terms(session: AsyncSession, *, workspace_id: str) -> list[str]:
    rows = await session.scalars(
        select(VocabularyTerm.term)
        .where(VocabularyTerm.workspace_id == workspace_id)
        .order_by(VocabularyTerm.position, VocabularyTerm.term_key)
    )
    return list(rows)


async def replace_terms(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    terms: Sequence[tuple[str, str]],
    now: datetime,
) -> list[str]:
    """Replace the workspace's terms with `terms` ((term, key) pairs, keys unique), in that
    order, recorded as added by `user_id`."""
    await session.execute(delete(VocabularyTerm).where(VocabularyTerm.workspace_id == workspace_id))
    session.add_all(
        VocabularyTerm(
            id=new_id(),
            workspace_id=workspace_id,
            user_id=user_id,
            term=term,
            term_key=key,
            position=i,
            created_at=now,
        )
        for i, (term, key) in enumerate(terms)
    )
    await session.flush()
    return [term for term, _ in terms]
