"""REST: what Wingman makes of calls after the fact: the customer's sentiment timeline, the
follow-up email draft, and trends across calls for the dashboard."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from wingman.api.deps import ContainerDep, CurrentUser, CurrentViewer, StoreDep
from wingman.followup import EmailDraft, draft_follow_up
from wingman.store.records import Viewer
from wingman.store.sentiment import list_sentiments
from wingman.store.trends import Range, Trends, trends

router = APIRouter(prefix="/api", tags=["analysis"])
NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "no such call for this user"}}


class SentimentPoint(BaseModel):
    segment_id: str
    start: float
    end: float
    text: str
    score: float  # [-1, 1]
    label: Literal["positive", "neutral", "negative"]
    saved: bool  # scored live and stored; False: scored now (a call from before sentiment)


@router.get("/calls/{call_id}/sentiment", responses=NOT_FOUND)
async def call_sentiment(
    call_id: str, viewer: CurrentViewer, store: StoreDep, container: ContainerDep
) -> list[SentimentPoint]:
    """The customer's sentiment per transcript segment, in time order."""
    detail = await store.call_detail(viewer=viewer, call_id=call_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    saved = {p.segment_id: p for p in await list_sentiments(store, viewer=viewer, call_id=call_id)}
    points = []
    for seg in detail.transcript:
        if seg.speaker != "customer":
            continue
        point = saved.get(seg.id)
        if point is not None:
            score, label = point.score, point.label
        else:
            scored, _ = container.sentiment.score_text(seg.text)
            score, label = scored.score, scored.label
        points.append(
            SentimentPoint(
                segment_id=seg.id,
                start=seg.start,
                end=seg.end,
                text=seg.text,
                score=score,
                label=label,
                saved=point is not None,
            )
        )
    return points


@router.get("/calls/{call_id}/follow-up", responses=NOT_FOUND)
async def follow_up(call_id: str, user: CurrentUser, store: StoreDep) -> EmailDraft:
    """A follow-up email draft from the call's summary and action items (edit, copy, send):
    the rep's own calls."""
    detail = await store.call_detail(viewer=Viewer.own(user), call_id=call_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    return draft_follow_up(
        title=detail.title,
        summary=detail.summary,
        action_items=detail.action_items,
        transcript=[s.text for s in detail.transcript if s.speaker != "rep"],
        rep_name=user.name,
    )


TRENDS_ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "a rep asked for a team's trends"},
    404: {"description": "no such rep in the caller's view"},
}


@router.get("/trends", responses=TRENDS_ERRORS)
async def call_trends(
    user: CurrentUser,
    viewer: CurrentViewer,
    store: StoreDep,
    range_: Annotated[Range, Query(alias="range", description="week, month or quarter")] = "month",
    rep: Annotated[
        str,
        Query(max_length=64,
              description="me (default), team (a manager's reps, an admin's members), or a rep's id"),
    ] = "me",
) -> Trends:
    """Calls, minutes, tips shown and liked, objections and competitors per day (week) or per
    week (month, quarter), and the talk ratio of each call in the range: the caller's own, a
    team's with a row per rep (managers: their reps; admins: every member), or one rep's whom
    the caller may see (a rep: only themselves)."""
    now = store.now()  # the store's clock: the one the calls were stamped with
    if rep in ("me", user.id):
        return await trends(store, user_id=user.id, workspace_id=user.workspace_id, range_=range_, now=now)
    if user.role == "rep":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a rep sees their own trends only")
    members = {m.id: m for m in await store.list_members(workspace_id=user.workspace_id)}
    if rep == "team":
        chosen = [m for m in members if viewer.everyone or m in viewer.team]
    elif rep in members and viewer.sees(rep):
        chosen = [rep]
    else:  # another workspace's user, or a rep of another manager: exactly like a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rep in your team")
    found = await trends(
        store, user_id=user.id, workspace_id=user.workspace_id, range_=range_, now=now,
        reps=chosen, scope=rep,
    )
    named = [r.model_copy(update={"name": members[r.user_id].name}) for r in found.reps]
    return found.model_copy(update={"reps": named})
