"""Queries on users' voiceprints (tenant-scoped: the key is the user)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.models import Voiceprint


@dataclass(frozen=True)
class VoiceprintRecord:
    user_id: str
    model: str
    embedding: bytes
    seconds: float
    created_at: datetime


async def get(session: AsyncSession, *, user_id: str) -> VoiceprintRecord | None:
    row = await session.scalar(select(Voiceprint).where(Voiceprint.user_id == user_id))
    if row is None:
        return None
    return VoiceprintRecord(row.user_id, row.model, row.embedding, row.seconds, row.created_at)


async def put(session: AsyncSession, record: VoiceprintRecord) -> None:
    """Replace the user's voiceprint (a new voice check overrides the old one)."""
    await session.execute(delete(Voiceprint).where(Voiceprint.user_id == record.user_id))
    session.add(
        Voiceprint(
            user_id=record.user_id,
            model=record.model,
            embedding=record.embedding,
            seconds=record.seconds,
            created_at=record.created_at,
        )
    )
    await session.flush()


async def remove(session: AsyncSession, *, user_id: str) -> bool:
    result = await session.execute(delete(Voiceprint).where(Voiceprint.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))
