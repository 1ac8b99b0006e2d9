"""REST: team views and coaching comments.

`GET /api/team` is a manager's dashboard: one row per rep they see (an admin: every member)
with calls, talk ratio, objections and tips liked. The team's call history is `GET /api/calls`
with its rep / date / competitor / objection filters. Managers and admins comment on moments
of the calls they can see; the call's rep reads the comments on the call page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from wingman.api.auth import UserOut
from wingman.api.deps import CurrentUser, CurrentViewer, Manager, StoreDep
from wingman.errors import NotFound
from wingman.store.records import CommentRecord, Stats
from wingman.store.team import MAX_COMMENT_CHARS

router = APIRouter(prefix="/api", tags=["team"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such call for this user"}}


class RepRowOut(BaseModel):
    member: UserOut
    stats: Stats


class TeamOut(BaseModel):
    reps: list[RepRowOut]
    team: Stats = Field(description="the same figures over every call in the view")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    at_seconds: float | None = Field(None, ge=0, description="the moment of the call it is about")


@router.get("/team", responses={403: {"description": "reps have no team view"}})
async def team(
    user: Manager,
    store: StoreDep,
    since: Annotated[datetime | None, Query(description="only calls started at or after")] = None,
) -> TeamOut:
    """Per-rep figures for the manager's team (an admin: the whole workspace)."""
    viewer = await store.viewer(user)
    members = await store.list_members(workspace_id=user.workspace_id)
    # a manager's reps; an admin's whole workspace (themselves included: admins take calls too)
    reps = [m for m in members if viewer.everyone or m.id in viewer.team]
    rows = [
        RepRowOut(member=UserOut.of(m), stats=await store.stats(viewer=viewer, rep=m.id, since=since))
        for m in reps
    ]
    return TeamOut(reps=rows, team=await store.stats(viewer=viewer, since=since))


@router.get("/calls/{call_id}/comments", responses=NOT_FOUND)
async def list_comments(call_id: str, viewer: CurrentViewer, store: StoreDep) -> list[CommentRecord]:
    """Coaching comments on a call, in time order (the rep sees their manager's)."""
    if await store.get_call(viewer=viewer, call_id=call_id) is None:
        raise NotFound("no such call")
    return await store.list_comments(viewer=viewer, call_id=call_id)


@router.post(
    "/calls/{call_id}/comments",
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, 403: {"description": "reps do not write coaching comments"}},
)
async def add_comment(
    call_id: str, body: CommentIn, user: CurrentUser, viewer: CurrentViewer, store: StoreDep
) -> CommentRecord:
    """Comment on a moment of a call you can see (managers and admins)."""
    return await store.add_comment(
        viewer=viewer, author_name=user.name, call_id=call_id, text=body.text, at_seconds=body.at_seconds
    )
