"""REST: call history (search, detail, agent reasoning), stats and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser, CurrentViewer, StoreDep
from wingman.events import FeedbackStatus
from wingman.store.calls import CallFilters
from wingman.store.records import (
    AgentRunRecord,
    CallDetail,
    CallRecord,
    KeyMoment,
    RecommendationRecord,
    Stats,
    Viewer,
)
from wingman.store.snippets import parts

router = APIRouter(prefix="/api", tags=["calls"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such call for this user"}}


class SnippetPart(BaseModel):
    text: str
    match: bool = Field(description="these words matched the search")


class CallItemOut(BaseModel):
    id: str
    user_id: str  # the rep whose call it is
    title: str
    start_time: datetime
    end_time: datetime | None
    duration_seconds: float | None
    summary: str | None
    snippet: list[SnippetPart] | None = Field(
        default=None, description="with `q`: the words that matched, in context"
    )

    @classmethod
    def of(cls, call: CallRecord, snippet: str | None = None) -> CallItemOut:
        return cls(
            id=call.id,
            user_id=call.user_id,
            title=call.title,
            start_time=call.start_time,
            end_time=call.end_time,
            duration_seconds=call.duration_seconds,
            summary=call.summary,
            snippet=[SnippetPart(text=t, match=m) for t, m in parts(snippet)] if snippet else None,
        )


class CallListOut(BaseModel):
    items: list[CallItemOut]
    total: int


class TranscriptOut(BaseModel):
    id: str
    text: str
    speaker: str | None
    start: float
    end: float


class RecommendationOut(BaseModel):
    id: str
    content: str
    category: str
    agent: str
    kind: str
    context_snippet: str
    feedback_status: FeedbackStatus
    created_at: datetime
    source: str | None
    entity: str | None
    confidence: float | None

    @classmethod
    def of(cls, rec: RecommendationRecord) -> RecommendationOut:
        return cls.model_validate(rec.model_dump())


class CallDetailOut(BaseModel):
    id: str
    title: str
    start_time: datetime
    end_time: datetime | None
    duration_seconds: float | None
    summary: str | None
    full_transcript: str | None
    transcript: list[TranscriptOut]
    recommendations: list[RecommendationOut]
    key_moments: list[KeyMoment]
    action_items: list[str]

    @classmethod
    def of(cls, d: CallDetail) -> CallDetailOut:
        duration = (d.end_time - d.start_time).total_seconds() if d.end_time else None
        return cls(
            id=d.id,
            title=d.title,
            start_time=d.start_time,
            end_time=d.end_time,
            duration_seconds=duration,
            summary=d.summary,
            full_transcript=d.full_transcript,
            transcript=[
                TranscriptOut(id=s.id, text=s.text, speaker=s.speaker, start=s.start, end=s.end)
                for s in d.transcript
            ],
            recommendations=[RecommendationOut.of(r) for r in d.recommendations],
            key_moments=d.key_moments,
            action_items=d.action_items,
        )


class FeedbackIn(BaseModel):
    status: FeedbackStatus


class FeedbackOut(BaseModel):
    ok: bool = True
    id: str
    feedback_status: FeedbackStatus


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")


@router.get("/calls")
async def list_calls(
    viewer: CurrentViewer,
    store: StoreDep,
    q: Annotated[str | None, Query(max_length=200, description="words to search for")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    rep: Annotated[str | None, Query(max_length=64, description="only this rep's calls (user id)")] = None,
    since: Annotated[datetime | None, Query(description="calls started at or after")] = None,
    until: Annotated[datetime | None, Query(description="calls started before")] = None,
    competitor: Annotated[str | None, Query(max_length=200, description="a competitor that came up")] = None,
    objection: Annotated[
        str | None, Query(max_length=100, description="an objection kind, e.g. price")
    ] = None,
) -> CallListOut:
    """The calls the user may see, newest first: a rep their own, a manager their team's, an
    admin the workspace's. `q` searches titles, summaries and transcripts; the other filters
    narrow by rep, start time, competitor mentioned and objection raised."""
    filters = CallFilters(rep=rep, since=since, until=until, competitor=competitor, objection=objection)
    page = await store.list_calls(viewer=viewer, q=q, limit=limit, offset=offset, filters=filters)
    items = [CallItemOut.of(c, page.snippets.get(c.id)) for c in page.items]
    return CallListOut(items=items, total=page.total)


@router.get("/calls/{call_id}", responses=NOT_FOUND)
async def call_detail(call_id: str, viewer: CurrentViewer, store: StoreDep) -> CallDetailOut:
    """A call with transcript, recommendations, key moments and action items."""
    detail = await store.call_detail(viewer=viewer, call_id=call_id)
    if detail is None:
        raise not_found("call")
    return CallDetailOut.of(detail)


@router.get("/calls/{call_id}/agent-runs", responses=NOT_FOUND)
async def agent_runs(call_id: str, viewer: CurrentViewer, store: StoreDep) -> list[AgentRunRecord]:
    """Every agent decision about the call's transcript blocks, for review."""
    if await store.get_call(viewer=viewer, call_id=call_id) is None:
        raise not_found("call")
    return await store.list_agent_runs(viewer=viewer, call_id=call_id)


@router.get("/stats")
async def stats(user: CurrentUser, store: StoreDep) -> Stats:
    """Dashboard figures over the user's own calls: this week, totals, feedback, top
    objections and competitors (a manager's team figures: /api/team)."""
    return await store.stats(viewer=Viewer.own(user))


@router.post(
    "/recommendations/{recommendation_id}/feedback",
    responses={404: {"description": "no such recommendation for this user"}},
)
async def feedback(
    recommendation_id: str, body: FeedbackIn, user: CurrentUser, container: ContainerDep
) -> FeedbackOut:
    """Like, dislike or clear a recommendation; the agents hear of it and adapt."""
    rec = await container.feedback.give(
        workspace_id=user.workspace_id,
        user_id=user.id,
        recommendation_id=recommendation_id,
        status=body.status,
    )
    if rec is None:
        raise not_found("recommendation")
    return FeedbackOut(id=rec.id, feedback_status=rec.feedback_status)
