"""REST: a call's summary, editable on the call page.

`GET /api/calls/{id}/summary` is the summary in force (edited, or the generated one) with its
`version` (also the ETag), who edited it and when, and the generated summary for "revert".
`PUT` saves an edit started from `version` (in the body, or as `If-Match`); `DELETE ?version=`
reverts to the generated summary. A stale version gets 409 with the current summary in the
body, so the page can show it and let the person reload. Whoever may see the call may edit
its summary: a rep their own calls, a manager their reps', an admin the workspace's. The call
lists and search (store/calls.py with_edits, migration 0012's index), the CRM sync and the
follow-up email read the edited summary (store/calls.py call_detail)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wingman.api.deps import CurrentUser, CurrentViewer, StoreDep
from wingman.store.summaries import SummaryRepo
from wingman.store.summary_edits import (
    MAX_ACTION_ITEM_CHARS,
    MAX_ACTION_ITEMS,
    MAX_SUMMARY_CHARS,
    Editor,
    SummaryRecord,
)

router = APIRouter(prefix="/api", tags=["calls"])


class SummaryOut(BaseModel):
    call_id: str
    version: int = Field(description="0: never edited; send it back with an edit")
    text: str
    action_items: list[str]
    edited: bool = Field(description="a person's edit is in force (else the generated summary)")
    edited_by_name: str | None = Field(description="who last edited or reverted it")
    edited_at: datetime | None
    generated_text: str
    generated_action_items: list[str]

    @classmethod
    def of(cls, r: SummaryRecord) -> SummaryOut:
        return cls(
            call_id=r.call_id, version=r.version, text=r.text, action_items=r.action_items,
            edited=r.edited, edited_by_name=r.edited_by_name, edited_at=r.edited_at,
            generated_text=r.generated_text, generated_action_items=r.generated_action_items,
        )


class SummaryIn(BaseModel):
    text: str = Field(max_length=MAX_SUMMARY_CHARS)
    action_items: list[Annotated[str, Field(max_length=MAX_ACTION_ITEM_CHARS)]] = Field(
        default_factory=list, max_length=MAX_ACTION_ITEMS
    )
    version: int | None = Field(default=None, ge=0, description="the version this edit started from")


class SummaryConflictOut(BaseModel):
    detail: str
    code: Literal["summary_changed"] = "summary_changed"
    current: SummaryOut


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such call for this user"},
    409: {
        "model": SummaryConflictOut,
        "description": "the summary changed since `version` (body: the current one), or the call is still on",
    },
    428: {"description": "no `version` and no If-Match header"},
}


def _version(body: int | None, if_match: str | None) -> int:
    if body is not None:
        return body
    tag = (if_match or "").removeprefix("W/").strip().strip('"')
    if tag.isdigit():
        return int(tag)
    raise HTTPException(
        status.HTTP_428_PRECONDITION_REQUIRED, "say which version you edited: `version` or If-Match"
    )


def _out(record: SummaryRecord, response: Response) -> SummaryOut:
    response.headers["ETag"] = f'"{record.version}"'
    return SummaryOut.of(record)


async def _save(
    call_id: str, viewer: CurrentViewer, user: CurrentUser, store: StoreDep, response: Response,
    *, version: int, text: str | None, action_items: list[str] | None,
) -> SummaryOut | JSONResponse:
    repo = SummaryRepo(store)
    current = await repo.get(viewer=viewer, call_id=call_id)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    if not current.finished:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the call is still going on: edit its summary after it ends"
        )
    result = await repo.save(
        viewer=viewer, editor=Editor(id=user.id, name=user.name), call_id=call_id,
        base_version=version, text=text, action_items=action_items,
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    saved, record = result
    if not saved:
        who = record.edited_by_name or "someone"
        body = SummaryConflictOut(
            detail=f"{who} changed this summary since you opened it: reload to see their version",
            current=SummaryOut.of(record),
        )
        return JSONResponse(body.model_dump(mode="json"), status.HTTP_409_CONFLICT,
                            headers={"ETag": f'"{record.version}"'})
    return _out(record, response)


@router.get("/calls/{call_id}/summary", responses={404: ERRORS[404]})
async def get_summary(call_id: str, viewer: CurrentViewer, store: StoreDep, response: Response) -> SummaryOut:
    """The summary in force, its version, and the generated one."""
    record = await SummaryRepo(store).get(viewer=viewer, call_id=call_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    return _out(record, response)


@router.put("/calls/{call_id}/summary", responses=ERRORS, response_model=SummaryOut)
async def put_summary(
    call_id: str, body: SummaryIn, viewer: CurrentViewer, user: CurrentUser, store: StoreDep,
    response: Response, if_match: Annotated[str | None, Header()] = None,
) -> SummaryOut | JSONResponse:
    """Save an edit of the summary text and action items (409 if it changed since `version`)."""
    return await _save(
        call_id, viewer, user, store, response,
        version=_version(body.version, if_match), text=body.text, action_items=body.action_items,
    )


@router.delete("/calls/{call_id}/summary", responses=ERRORS, response_model=SummaryOut)
async def revert_summary(
    call_id: str, viewer: CurrentViewer, user: CurrentUser, store: StoreDep, response: Response,
    version: Annotated[int | None, Query(ge=0, description="the version being reverted")] = None,
    if_match: Annotated[str | None, Header()] = None,
) -> SummaryOut | JSONResponse:
    """Revert to the generated summary (the edit is dropped; the version still grows)."""
    return await _save(
        call_id, viewer, user, store, response,
        version=_version(version, if_match), text=None, action_items=None,
    )
