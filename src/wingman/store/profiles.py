"""Queries on company profiles (one row per tenant)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.events import new_id
from wingman.profile import CompanyProfile, ProfileRecord, ProfileSource
from wingman.store.models import CompanyProfileRow


async def get_profile(session: AsyncSession, *, tenant_id: str) -> ProfileRecord | None:
    row = await session.scalar(select(CompanyProfileRow).where(CompanyProfileRow.tenant_id == tenant_id))
    if row is None:
        return None
    source: ProfileSource = "sample" if row.source == "sample" else "user"
    return ProfileRecord(profile=CompanyProfile.model_validate(row.profile), source=source)


async def put_profile(
    session: AsyncSession, *, tenant_id: str, profile: CompanyProfile, source: ProfileSource, now: datetime
) -> ProfileRecord:
    row = await session.scalar(
        select(CompanyProfileRow).where(CompanyProfileRow.tenant_id == tenant_id).with_for_update()
    )
    data = profile.model_dump(mode="json")
    if row is None:
        session.add(
            CompanyProfileRow(id=new_id(), tenant_id=tenant_id, profile=data, source=source, updated_at=now)
        )
    else:
        row.profile, row.source, row.updated_at = data, source, now
    await session.flush()
    return ProfileRecord(profile=profile, source=source)


async def delete_profile(session: AsyncSession, *, tenant_id: str, source: ProfileSource | None) -> bool:
    query = delete(CompanyProfileRow).where(CompanyProfileRow.tenant_id == tenant_id)
    if source is not None:
        query = query.where(CompanyProfileRow.source == source)
    result = await session.execute(query)
    return bool(getattr(result, "rowcount", 0))
