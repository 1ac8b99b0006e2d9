"""Sentiment per customer segment: saved live by the call's pipeline, read by the call page.
Scoped to the tenant through the call it belongs to."""

from __future__ import annotations

from sqlalchemy import select

from wingman.store.common import insert_for_call, visible
from wingman.store.models import CallSession, SegmentSentimentRow
from wingman.store.records import Record, Viewer
from wingman.store.repos import Store


class SentimentRecord(Record):
    segment_id: str
    start: float
    score: float
    label: str


async def add_sentiment(
    store: Store,
    *,
    workspace_id: str,
    user_id: str,
    call_id: str,
    segment_id: str,
    start: float,
    score: float,
    label: str,
) -> bool:
    """Save a segment's sentiment; True when new (idempotent on the segment id; others' calls: False)."""
    async with store.tenant_tx(workspace_id, write=True) as s:
        return await insert_for_call(
            s,
            SegmentSentimentRow.__table__,  # type: ignore[arg-type]
            {
                "segment_id": segment_id,
                "call_session_id": call_id,
                "start": start,
                "score": score,
                "label": label,
            },
            workspace_id=workspace_id,
            user_id=user_id,
            call_id=call_id,
        )


async def list_sentiments(store: Store, *, viewer: Viewer, call_id: str) -> list[SentimentRecord]:
    """A call's saved sentiment points in time order (empty for calls `viewer` cannot see)."""
    async with store.tenant_tx(viewer.workspace_id, write=False) as s:
        rows = await s.scalars(
            select(SegmentSentimentRow)
            .join(CallSession, CallSession.id == SegmentSentimentRow.call_session_id)
            .where(SegmentSentimentRow.call_session_id == call_id, *visible(viewer))
            .order_by(SegmentSentimentRow.start, SegmentSentimentRow.segment_id)
        )
        return [SentimentRecord.model_validate(r) for r in rows]
