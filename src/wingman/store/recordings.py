"""Recordings in the store: each workspace's opt-in and retention, and one row per recorded
call (where its audio is, in what format, how long). `RecordingRepo` is the facade the
recordings package uses; the audio itself lives in files (recordings/service.py).

Rows have no foreign key to their call: a call deleted by retention or anything else leaves
its recording row behind, and the recordings sweep (`orphans`) deletes the file and the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from wingman.store.common import insert_ignore
from wingman.store.models import CallSession, RecordingRow, RecordingSettingsRow
from wingman.store.records import Record, UtcDatetime
from wingman.store.repos import Store

RECORDING, READY, FAILED, DELETED = "recording", "ready", "failed", "deleted"


class RecordingSettings(Record):
    workspace_id: str
    enabled: bool = False  # opt-in: nothing is recorded until an admin turns it on
    retention_days: int | None = None  # None: kept as long as the call
    updated_by: str | None = None
    updated_at: UtcDatetime | None = None


class RecordingRecord(Record):
    call_session_id: str
    workspace_id: str
    user_id: str
    status: str
    node: str
    path: str
    media_type: str
    sample_rate: int
    channels: int
    size_bytes: int
    seconds: float
    deleted_reason: str | None = None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    deleted_at: UtcDatetime | None = None


class RecordingRepo:
    """Persistence of recording settings and rows over the Store's tenant routing."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def settings(self, *, workspace_id: str) -> RecordingSettings:
        async with self._store.tenant_tx(workspace_id, write=False) as s:
            row = await s.get(RecordingSettingsRow, workspace_id)
            if row is None:
                return RecordingSettings(workspace_id=workspace_id)
            return RecordingSettings.model_validate(row)

    async def save_settings(
        self, *, workspace_id: str, enabled: bool, retention_days: int | None, updated_by: str, now: datetime
    ) -> RecordingSettings:
        async with self._store.tenant_tx(workspace_id, write=True) as s:
            row = await s.get(RecordingSettingsRow, workspace_id)
            if row is None:
                row = RecordingSettingsRow(workspace_id=workspace_id)
                s.add(row)
            row.enabled, row.retention_days = enabled, retention_days
            row.updated_by, row.updated_at = updated_by, now
            await s.flush()
            return RecordingSettings.model_validate(row)

    async def start(self, record: RecordingRecord) -> RecordingRecord:
        """The call's row, created when its first audio is recorded; a resumed call (on this
        node or another) takes the existing row over and goes on recording into it."""
        values = record.model_dump()
        async with self._store.tenant_tx(record.workspace_id, write=True) as s:
            if not await insert_ignore(s, RecordingRow.__table__, values):  # type: ignore[arg-type]
                await s.execute(
                    update(RecordingRow)
                    .where(RecordingRow.call_session_id == record.call_session_id,
                           RecordingRow.status == RECORDING)
                    .values(node=record.node)
                )
            row = await s.get(RecordingRow, record.call_session_id, populate_existing=True)
            assert row is not None
            return RecordingRecord.model_validate(row)

    async def get(self, *, workspace_id: str, call_id: str) -> RecordingRecord | None:
        async with self._store.tenant_tx(workspace_id, write=False) as s:
            row = await s.get(RecordingRow, call_id)
            if row is None or row.workspace_id != workspace_id:
                return None
            return RecordingRecord.model_validate(row)

    async def update(self, *, workspace_id: str, call_id: str, **values: Any) -> None:
        async with self._store.tenant_tx(workspace_id, write=True) as s:
            await s.execute(
                update(RecordingRow)
                .where(RecordingRow.call_session_id == call_id, RecordingRow.workspace_id == workspace_id)
                .values(**values)
            )

    async def forget(self, *, workspace_id: str, call_id: str) -> None:
        """Drop the row (its call is gone and so is its file)."""
        async with self._store.tenant_tx(workspace_id, write=True) as s:
            row = await s.get(RecordingRow, call_id)
            if row is not None and row.workspace_id == workspace_id:
                await s.delete(row)

    # -- sweeps across every tenant (the recordings loop of each node)
    async def ended(self, *, node: str) -> list[RecordingRecord]:
        """Recordings this node's disk holds whose call has ended: to be finished (encoded)."""
        found: list[RecordingRecord] = []
        async for s in self._store.each_primary():
            rows = await s.scalars(
                select(RecordingRow)
                .join(CallSession, CallSession.id == RecordingRow.call_session_id)
                .where(RecordingRow.status == RECORDING, RecordingRow.node == node,
                       CallSession.end_time.is_not(None))
            )
            found += [RecordingRecord.model_validate(r) for r in rows]
        return found

    async def orphans(self) -> list[RecordingRecord]:
        """Recordings whose call no longer exists (deleted by retention or with its workspace)."""
        found: list[RecordingRecord] = []
        async for s in self._store.each_primary():
            calls = select(CallSession.id).where(CallSession.id == RecordingRow.call_session_id).exists()
            rows = await s.scalars(select(RecordingRow).where(~calls))
            found += [RecordingRecord.model_validate(r) for r in rows]
        return found

    async def expired(self, *, now: datetime) -> list[RecordingRecord]:
        """Ready recordings older than their workspace's retention period."""
        found: list[RecordingRecord] = []
        async for s in self._store.each_primary():
            kept = await s.execute(
                select(RecordingSettingsRow.workspace_id, RecordingSettingsRow.retention_days).where(
                    RecordingSettingsRow.retention_days.is_not(None)
                )
            )
            for workspace_id, days in kept.all():
                cutoff = now - timedelta(days=int(days or 0))
                rows = await s.scalars(
                    select(RecordingRow).where(
                        RecordingRow.workspace_id == workspace_id,
                        RecordingRow.status.in_((READY, FAILED)),
                        RecordingRow.created_at < cutoff,
                    )
                )
                found += [RecordingRecord.model_validate(r) for r in rows]
        return found
