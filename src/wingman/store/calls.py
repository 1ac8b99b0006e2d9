"""Queries on calls and their transcript. Every function filters by a scope: the caller's
own calls in their workspace for writes, the calls they may see (store.common.visible) for
reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.events import TranscriptFragment, new_id, utcnow
from wingman.store.common import (
    Scope,
    dialect_of,
    insert_for_call,
    insert_ignore,
    owned,
    recommendation_record,
)
from wingman.store.fulltext import search_condition
from wingman.store.models import (
    ActionItemRow,
    CallSession,
    KeyMomentRow,
    Recommendation,
    TranscriptSegment,
)
from wingman.store.records import (
    CallDetail,
    CallPage,
    CallRecord,
    KeyMoment,
    KeyMomentLike,
    SegmentRecord,
)
from wingman.store.snippets import snippets
from wingman.store.summary_edits import edit_row, edited_texts

MAX_TITLE_CHARS = 500


async def _call_row(session: AsyncSession, scope: Scope, call_id: str) -> CallSession | None:
    return await session.scalar(select(CallSession).where(CallSession.id == call_id, *scope))


async def create_call(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    title: str,
    call_id: str | None,
    now: datetime,
) -> CallRecord | None:
    """Insert a call; None when `call_id` is already taken by another user or tenant."""
    title = title.strip()[:MAX_TITLE_CHARS] or "Untitled call"
    cid = call_id or new_id()
    # an existing call of this user comes back as it is: creating twice is harmless
    await insert_ignore(
        session,
        CallSession.__table__,  # type: ignore[arg-type]
        {"id": cid, "user_id": user_id, "workspace_id": workspace_id, "title": title, "start_time": now},
    )
    scope = owned(workspace_id, user_id)
    row = await _call_row(session, scope, cid)
    return CallRecord.model_validate(row) if row is not None else None


async def with_edits(session: AsyncSession, calls: Sequence[CallRecord]) -> list[CallRecord]:
    """The calls with the summary in force: an edit made on the call page wins over the
    generated summary (lists, search results and the call detail all show the same one)."""
    edited = await edited_texts(session, [c.id for c in calls])
    return [c.model_copy(update={"summary": edited[c.id]}) if c.id in edited else c for c in calls]


async def get_call(session: AsyncSession, *, scope: Scope, call_id: str) -> CallRecord | None:
    row = await _call_row(session, scope, call_id)
    if row is None:
        return None
    return (await with_edits(session, [CallRecord.model_validate(row)]))[0]


async def finish_call(
    session: AsyncSession,
    *,
    scope: Scope,
    call_id: str,
    full_transcript: str,
    summary: str,
    key_moments: Sequence[KeyMomentLike],
    action_items: Sequence[str],
    end_time: datetime | None,
) -> CallRecord | None:
    row = await _call_row(session, scope, call_id)
    if row is None:
        return None
    row.full_transcript = full_transcript
    row.summary = summary
    row.end_time = end_time or utcnow()
    # replace, never append: finishing twice leaves the same rows as finishing once
    await session.execute(delete(KeyMomentRow).where(KeyMomentRow.call_session_id == call_id))
    await session.execute(delete(ActionItemRow).where(ActionItemRow.call_session_id == call_id))
    session.add_all(
        KeyMomentRow(call_session_id=call_id, position=i, kind=m.kind, text=m.text, at_seconds=float(m.at))
        for i, m in enumerate(key_moments)
    )
    session.add_all(
        ActionItemRow(call_session_id=call_id, position=i, text=item) for i, item in enumerate(action_items)
    )
    await session.flush()
    return CallRecord.model_validate(row)


async def list_segments(session: AsyncSession, *, scope: Scope, call_id: str) -> list[SegmentRecord]:
    rows = await session.scalars(
        select(TranscriptSegment)
        .join(CallSession, CallSession.id == TranscriptSegment.call_session_id)
        .where(TranscriptSegment.call_session_id == call_id, *scope)
        .order_by(TranscriptSegment.start, TranscriptSegment.created_at, TranscriptSegment.id)
    )
    return [SegmentRecord.model_validate(r) for r in rows]


async def call_detail(session: AsyncSession, *, scope: Scope, call_id: str) -> CallDetail | None:
    row = await _call_row(session, scope, call_id)
    if row is None:
        return None
    segments = await list_segments(session, scope=scope, call_id=call_id)
    recs = await session.scalars(
        select(Recommendation)
        .where(Recommendation.call_session_id == call_id)
        .order_by(Recommendation.created_at, Recommendation.id)
    )
    moments = await session.scalars(
        select(KeyMomentRow).where(KeyMomentRow.call_session_id == call_id).order_by(KeyMomentRow.position)
    )
    items = await session.scalars(
        select(ActionItemRow.text)
        .where(ActionItemRow.call_session_id == call_id)
        .order_by(ActionItemRow.position)
    )
    edit = await edit_row(session, call_id)
    edited = edit is not None and edit.text is not None
    return CallDetail(
        id=row.id,
        user_id=row.user_id,
        workspace_id=row.workspace_id,
        title=row.title,
        start_time=row.start_time,
        end_time=row.end_time,
        # an edit made on the call page wins (the CRM and the follow-up email read this)
        summary=edit.text if edit is not None and edited else row.summary,
        full_transcript=row.full_transcript,
        transcript=segments,
        recommendations=[recommendation_record(r) for r in recs],
        key_moments=[KeyMoment(kind=m.kind, text=m.text, at=m.at_seconds) for m in moments],
        action_items=list(edit.action_items or []) if edit is not None and edited else list(items),
    )


@dataclass(frozen=True)
class CallFilters:
    """Narrowing of a call list: one rep, a start-time window, a competitor or an objection
    kind (e.g. "price") that came up in the call's recommendations."""

    rep: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    competitor: str | None = None
    objection: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.rep:
            where.append(CallSession.user_id == self.rep)
        if self.since is not None:
            where.append(CallSession.start_time >= self.since)
        if self.until is not None:
            where.append(CallSession.start_time < self.until)
        if self.competitor:
            where.append(
                exists().where(
                    Recommendation.call_session_id == CallSession.id,
                    func.lower(Recommendation.entity) == self.competitor.strip().lower(),
                )
            )
        if self.objection:
            kind = "objection." + self.objection.strip().lower().removeprefix("objection.")
            where.append(
                exists().where(Recommendation.call_session_id == CallSession.id, Recommendation.kind == kind)
            )
        return where


async def list_calls(
    session: AsyncSession,
    *,
    scope: Scope,
    q: str | None,
    limit: int,
    offset: int,
    filters: CallFilters | None = None,
) -> CallPage:
    where = [*scope, *(filters or CallFilters()).conditions()]
    if q:
        condition = search_condition(dialect_of(session), q)
        if condition is not None:
            where.append(condition)
    total = await session.scalar(select(func.count()).select_from(CallSession).where(*where))
    rows = await session.scalars(
        select(CallSession)
        .where(*where)
        .order_by(CallSession.start_time.desc(), CallSession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = await with_edits(session, [CallRecord.model_validate(r) for r in rows])
    found = await snippets(session, [c.id for c in items], q) if q else {}
    return CallPage(items=items, total=int(total or 0), snippets=found)


async def add_segment(
    session: AsyncSession, *, workspace_id: str, user_id: str, call_id: str, fragment: TranscriptFragment
) -> bool:
    return await insert_for_call(
        session,
        TranscriptSegment.__table__,  # type: ignore[arg-type]
        {
            "id": fragment.id,
            "call_session_id": call_id,
            "speaker": fragment.speaker,
            "channel": fragment.channel,
            "text": fragment.text,
            "start": fragment.start,
            "end": fragment.end,
            "created_at": utcnow(),
        },
        workspace_id=workspace_id,
        user_id=user_id,
        call_id=call_id,
    )
