"""Queries on summary edits (migration 0011): the summary of a call as a person edited it,
beside the generated one that call_sessions.summary and action_items keep.

Every write is a compare-and-set on the version the editor started from, so two people editing
at once cannot overwrite each other silently: the second gets the current version back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.common import Scope, insert_ignore
from wingman.store.models import ActionItemRow, CallSession, SummaryEditRow
from wingman.store.records import Record, UtcDatetime

MAX_SUMMARY_CHARS = 20_000
MAX_ACTION_ITEMS = 50
MAX_ACTION_ITEM_CHARS = 500


class SummaryRecord(Record):
    """The summary in force (edited if someone edited it, else the generated one) and the
    generated one, for "revert to generated"."""

    call_id: str
    finished: bool  # the call has ended (its summary has been generated)
    version: int  # 0: never edited
    text: str
    action_items: list[str]
    edited: bool
    edited_by: str | None = None
    edited_by_name: str | None = None
    edited_at: UtcDatetime | None = None
    generated_text: str
    generated_action_items: list[str]


class Editor(Record):
    id: str
    name: str


async def edit_row(session: AsyncSession, call_id: str) -> SummaryEditRow | None:
    return await session.get(SummaryEditRow, call_id, populate_existing=True)


async def edited_texts(session: AsyncSession, call_ids: Sequence[str]) -> dict[str, str]:
    """{call id: its edited summary} of those of `call_ids` whose edit is in force."""
    if not call_ids:
        return {}
    rows = await session.execute(
        select(SummaryEditRow.call_session_id, SummaryEditRow.text).where(
            SummaryEditRow.call_session_id.in_(list(call_ids)), SummaryEditRow.text.is_not(None)
        )
    )
    return {str(call_id): str(text) for call_id, text in rows}


async def summary_of(session: AsyncSession, *, scope: Scope, call_id: str) -> SummaryRecord | None:
    """The call's summary as `scope` may see it, or None."""
    call = await session.scalar(select(CallSession).where(CallSession.id == call_id, *scope))
    if call is None:
        return None
    items = list(
        await session.scalars(
            select(ActionItemRow.text)
            .where(ActionItemRow.call_session_id == call_id)
            .order_by(ActionItemRow.position)
        )
    )
    row = await edit_row(session, call_id)
    generated = call.summary or ""
    edited = row is not None and row.text is not None
    return SummaryRecord(
        call_id=call_id,
        finished=call.end_time is not None,
        version=row.version if row is not None else 0,
        text=row.text if row is not None and row.text is not None else generated,
        action_items=list(row.action_items or []) if edited and row is not None else items,
        edited=edited,
        edited_by=row.edited_by if row is not None else None,
        edited_by_name=row.edited_by_name if row is not None else None,
        edited_at=row.edited_at if row is not None else None,
        generated_text=generated,
        generated_action_items=items,
    )


def clean_items(items: Sequence[str]) -> list[str]:
    """Action items as a person typed them: trimmed, blank ones dropped."""
    return [i.strip()[:MAX_ACTION_ITEM_CHARS] for i in items if i.strip()][:MAX_ACTION_ITEMS]


async def write_edit(
    session: AsyncSession,
    *,
    call_id: str,
    base_version: int,
    text: str | None,
    action_items: Sequence[str] | None,
    editor: Editor,
    now: datetime,
) -> bool:
    """Set the call's edit (text None: back to the generated summary) when its version is still
    `base_version`; False when someone changed it since. The caller checked the call's scope."""
    values: dict[str, Any] = {
        "version": base_version + 1,
        "text": text,
        "action_items": list(action_items) if action_items is not None else None,
        "edited_by": editor.id,
        "edited_by_name": editor.name[:200],
        "edited_at": now,
    }
    if base_version == 0:
        return await insert_ignore(
            session,
            SummaryEditRow.__table__,  # type: ignore[arg-type]
            {"call_session_id": call_id, **values},
        )
    result = await session.execute(
        update(SummaryEditRow)
        .where(SummaryEditRow.call_session_id == call_id, SummaryEditRow.version == base_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1
