"""CRM connections and sync jobs: records and queries, scoped to a tenant (the id the rest of
the store keys tenant data by). `CrmRepo` is the facade the crm package uses.

A sync job is a row per (call, CRM). It is claimed with a lease (`locked_until`) by one
worker at a time, on any node; a worker that dies leaves a lease that expires, and the job is
taken up again. Progress (`steps`) is saved after every write the CRM acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import Field
from sqlalchemy import CursorResult, and_, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.common import insert_ignore
from wingman.store.models import CrmConnectionRow, CrmSyncRow
from wingman.store.records import Record, UtcDatetime
from wingman.store.repos import Store

DONE, PENDING, RUNNING, FAILED = "done", "pending", "running", "failed"
NEEDS_RECONNECT, NO_MATCH = "needs_reconnect", "no_match"


class CrmConnectionRecord(Record):
    tenant_id: str
    provider: str
    status: str
    refresh_token: str = Field(repr=False)  # sealed
    access_token: str | None = Field(default=None, repr=False)  # sealed
    access_expires_at: UtcDatetime | None = None
    instance_url: str | None = None
    account: str | None = None
    connected_by: str
    auto_sync: bool = True
    updated_at: UtcDatetime


class CrmSyncRecord(Record):
    call_session_id: str
    provider: str
    tenant_id: str
    status: str
    attempts: int
    next_attempt_at: UtcDatetime
    locked_until: UtcDatetime | None = None
    last_error: str | None = None
    lookup_email: str | None = None
    lookup_company: str | None = None
    target: dict[str, Any] | None = None
    steps: dict[str, str] = Field(default_factory=dict)
    summary_version: int = 0  # the version of the call's summary in force
    note_version: int = 0  # the version the CRM's note was written with
    updated_at: UtcDatetime

    @property
    def note_behind(self) -> bool:
        """The CRM holds a note of this call older than its summary (edited since)."""
        return "note" in self.steps and self.note_version < self.summary_version

    @classmethod
    def of(cls, row: CrmSyncRow) -> CrmSyncRecord:
        data = {c: getattr(row, c) for c in cls.model_fields if c not in ("target", "steps")}
        return cls(
            **data, target=json.loads(row.target) if row.target else None, steps=json.loads(row.steps or "{}")
        )


def _job(call_id: str, provider: str) -> Any:
    return and_(CrmSyncRow.call_session_id == call_id, CrmSyncRow.provider == provider)


def _claimable(now: datetime) -> Any:
    # pending and due, or running under a lease that ran out (its worker died)
    return or_(
        and_(CrmSyncRow.status == PENDING, CrmSyncRow.next_attempt_at <= now),
        and_(CrmSyncRow.status == RUNNING, CrmSyncRow.locked_until < now),
    )


def _has_note() -> Any:
    return CrmSyncRow.steps.like('%"note"%')  # steps is JSON {step: CRM id}


async def summary_changed(session: AsyncSession, *, call_id: str, version: int, now: datetime) -> int:
    """In the transaction that edits (or reverts) a call's summary: its jobs learn the new
    version, and those that already put a note in a CRM are due again to update it (a job
    running now is made due when its run ends: `release`). Returns how many are due."""
    await session.execute(
        update(CrmSyncRow).where(CrmSyncRow.call_session_id == call_id).values(summary_version=version)
    )
    result = await session.execute(
        update(CrmSyncRow)
        .where(CrmSyncRow.call_session_id == call_id, CrmSyncRow.status.in_((DONE, FAILED)), _has_note())
        .values(status=PENDING, attempts=0, next_attempt_at=now, last_error=None, updated_at=now)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


class CrmRepo:
    """Persistence of CRM connections and sync jobs over the Store's tenant routing."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- connections
    async def connection(self, *, tenant_id: str, provider: str) -> CrmConnectionRecord | None:
        """The tenant's connection to this CRM, or None."""
        async with self._store.tenant_tx(tenant_id, write=False) as s:
            row = await s.get(CrmConnectionRow, (tenant_id, provider))
            return CrmConnectionRecord.model_validate(row) if row is not None else None

    async def connections(self, *, tenant_id: str) -> list[CrmConnectionRecord]:
        """Every CRM this tenant connected."""
        async with self._store.tenant_tx(tenant_id, write=False) as s:
            rows = await s.scalars(select(CrmConnectionRow).where(CrmConnectionRow.tenant_id == tenant_id))
            return [CrmConnectionRecord.model_validate(r) for r in rows]

    async def save_connection(self, record: CrmConnectionRecord) -> None:
        """Create or replace the tenant's connection to a CRM (a reconnect replaces)."""
        async with self._store.tenant_tx(record.tenant_id, write=True) as s:
            await s.execute(
                delete(CrmConnectionRow).where(
                    CrmConnectionRow.tenant_id == record.tenant_id,
                    CrmConnectionRow.provider == record.provider,
                )
            )
            s.add(CrmConnectionRow(**record.model_dump()))

    async def update_connection(self, *, tenant_id: str, provider: str, **values: Any) -> None:
        """Change some columns of a connection (new access token, status ...)."""
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            await s.execute(
                update(CrmConnectionRow)
                .where(CrmConnectionRow.tenant_id == tenant_id, CrmConnectionRow.provider == provider)
                .values(**values)
            )

    async def delete_connection(self, *, tenant_id: str, provider: str) -> bool:
        """Forget a connection; False when there was none."""
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            result = await s.execute(
                delete(CrmConnectionRow).where(
                    CrmConnectionRow.tenant_id == tenant_id, CrmConnectionRow.provider == provider
                )
            )
            return bool(cast(CursorResult[Any], result).rowcount)

    # -- sync jobs
    async def enqueue(
        self,
        *,
        tenant_id: str,
        call_id: str,
        provider: str,
        now: datetime,
        email: str | None = None,
        company: str | None = None,
    ) -> bool:
        """A job for this call and CRM unless one exists (end-of-call is repeatable)."""
        values = {
            "call_session_id": call_id,
            "provider": provider,
            "tenant_id": tenant_id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "lookup_email": email,
            "lookup_company": company,
            "steps": "{}",
            "created_at": now,
            "updated_at": now,
        }
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            return await insert_ignore(s, CrmSyncRow.__table__, values)  # type: ignore[arg-type]

    async def request(
        self,
        *,
        tenant_id: str,
        call_id: str,
        provider: str,
        now: datetime,
        email: str | None,
        company: str | None,
        target: dict[str, Any] | None,
    ) -> None:
        """Sync now (the call page's button): the job is made due, with the rep's lookup or
        pick; the writes already made stay recorded, so nothing is written twice."""
        await self.enqueue(tenant_id=tenant_id, call_id=call_id, provider=provider, now=now)
        values: dict[str, Any] = {
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
            "last_error": None,
        }
        if email is not None or company is not None or target is not None:
            values |= {
                "lookup_email": email,
                "lookup_company": company,
                "target": json.dumps(target) if target else None,
            }
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            # a job running now keeps its lease; it is made due again when that run ends
            await s.execute(
                update(CrmSyncRow)
                .where(
                    _job(call_id, provider), CrmSyncRow.tenant_id == tenant_id, CrmSyncRow.status != RUNNING
                )
                .values(**values)
            )

    async def syncs(self, *, tenant_id: str, call_id: str) -> list[CrmSyncRecord]:
        """The call's jobs, one per CRM."""
        async with self._store.tenant_tx(tenant_id, write=False) as s:
            rows = await s.scalars(
                select(CrmSyncRow)
                .where(CrmSyncRow.tenant_id == tenant_id, CrmSyncRow.call_session_id == call_id)
                .order_by(CrmSyncRow.provider)
            )
            return [CrmSyncRecord.of(r) for r in rows]

    async def due(self, *, now: datetime, limit: int = 50) -> list[tuple[str, str, str]]:
        """(tenant, call, provider) of jobs any worker may claim now, oldest first (all tenants)."""
        found: list[tuple[str, str, str]] = []
        async for s in self._store.each_primary():
            rows = await s.execute(
                select(CrmSyncRow.tenant_id, CrmSyncRow.call_session_id, CrmSyncRow.provider)
                .where(_claimable(now))
                .order_by(CrmSyncRow.next_attempt_at)
                .limit(limit)
            )
            found += [(str(t), str(c), str(p)) for t, c, p in rows]
        return found

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending job falls due (all tenants), for the worker's sleep."""
        best: datetime | None = None
        async for s in self._store.each_primary():
            at = await s.scalar(
                select(CrmSyncRow.next_attempt_at)
                .where(CrmSyncRow.status == PENDING)
                .order_by(CrmSyncRow.next_attempt_at)
                .limit(1)
            )
            if at is not None:
                at = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite: naive UTC
                best = at if best is None or at < best else best
        return best

    async def claim(
        self, *, tenant_id: str, call_id: str, provider: str, now: datetime, lease: timedelta
    ) -> CrmSyncRecord | None:
        """Take the job for one run (None: another worker has it, or it is not due)."""
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            result = await s.execute(
                update(CrmSyncRow)
                .where(_job(call_id, provider), CrmSyncRow.tenant_id == tenant_id, _claimable(now))
                .values(
                    status=RUNNING, locked_until=now + lease, attempts=CrmSyncRow.attempts + 1, updated_at=now
                )
            )
            if cast(CursorResult[Any], result).rowcount != 1:
                return None
            row = await s.scalar(select(CrmSyncRow).where(_job(call_id, provider)))
            return CrmSyncRecord.of(row) if row is not None else None

    async def progress(
        self,
        *,
        tenant_id: str,
        call_id: str,
        provider: str,
        now: datetime,
        steps: dict[str, str],
        target: dict[str, Any] | None,
        note_version: int | None = None,
    ) -> None:
        """Record the writes the CRM acknowledged so far (and the record they went to, and
        the summary version its note carries)."""
        values: dict[str, Any] = {
            "steps": json.dumps(steps), "target": json.dumps(target) if target else None, "updated_at": now
        }
        if note_version is not None:
            values["note_version"] = note_version
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            await s.execute(
                update(CrmSyncRow)
                .where(_job(call_id, provider), CrmSyncRow.tenant_id == tenant_id)
                .values(**values)
            )

    async def release(
        self,
        *,
        tenant_id: str,
        call_id: str,
        provider: str,
        now: datetime,
        status: str,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """End a run: done, failed, waiting (pending again at `retry_at`) or blocked."""
        values: dict[str, Any] = {
            "status": status,
            "locked_until": None,
            "last_error": error,
            "updated_at": now,
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        if status == DONE:
            # the summary was edited while this run wrote the older one: due again at once
            # (decided in the row's own update, so an edit committed at any moment is seen)
            behind = CrmSyncRow.summary_version > CrmSyncRow.note_version
            values |= {
                "status": case((behind, PENDING), else_=DONE),
                "attempts": case((behind, 0), else_=CrmSyncRow.attempts),
                "next_attempt_at": case((behind, now), else_=CrmSyncRow.next_attempt_at),
            }
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            await s.execute(
                update(CrmSyncRow)
                .where(_job(call_id, provider), CrmSyncRow.tenant_id == tenant_id)
                .values(**values)
            )

    async def resume_blocked(
        self, *, tenant_id: str, provider: str, now: datetime, statuses: Sequence[str] = (NEEDS_RECONNECT,)
    ) -> int:
        """After a reconnect: the jobs that waited for it are due again. Returns how many."""
        async with self._store.tenant_tx(tenant_id, write=True) as s:
            result = await s.execute(
                update(CrmSyncRow)
                .where(
                    CrmSyncRow.tenant_id == tenant_id,
                    CrmSyncRow.provider == provider,
                    CrmSyncRow.status.in_(statuses),
                )
                .values(status=PENDING, next_attempt_at=now, attempts=0, last_error=None, updated_at=now)
            )
            return int(cast(CursorResult[Any], result).rowcount or 0)
