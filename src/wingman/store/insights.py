"""Queries on recommendations, feedback, agent runs and the dashboard stats (tenant-scoped)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.events import AgentRun, FeedbackStatus, Insight
from wingman.store.common import Scope, insert_for_call, owned, recommendation_record
from wingman.store.models import AgentRunRow, CallSession, Recommendation
from wingman.store.models import FeedbackStatus as DbFeedback
from wingman.store.records import AgentRunRecord, CountItem, RecommendationRecord, Stats
from wingman.store.talktime import talk_by_call, totals_by_call
from wingman.talktime import rep_ratio

TOP_N = 5


async def add_recommendation(session: AsyncSession, insight: Insight) -> bool:
    return await insert_for_call(
        session,
        Recommendation.__table__,  # type: ignore[arg-type]
        {
            "id": insight.id,
            "call_session_id": insight.call_id,
            "content": insight.content,
            "category": insight.category,
            "context_snippet": insight.context_snippet,
            "feedback_status": DbFeedback.NONE,
            "created_at": insight.created_at,
            "agent": insight.agent,
            "kind": insight.kind,
            "source": insight.source,
            "entity": insight.entity,
            "confidence": insight.confidence,
            "block_id": insight.block_id,
        },
        workspace_id=insight.tenant,
        user_id=insight.user_id,
        call_id=insight.call_id,
    )


async def set_feedback(
    session: AsyncSession, *, scope: Scope, recommendation_id: str, status: FeedbackStatus
) -> RecommendationRecord | None:
    row = await session.scalar(
        select(Recommendation)
        .join(CallSession, CallSession.id == Recommendation.call_session_id)
        .where(Recommendation.id == recommendation_id, *scope)
    )
    if row is None:
        return None
    row.feedback_status = DbFeedback(status)
    await session.flush()
    return recommendation_record(row)


async def feedback_by_kind(
    session: AsyncSession, *, workspace_id: str, user_id: str
) -> dict[str, tuple[int, int]]:
    query = (
        select(Recommendation.kind, Recommendation.feedback_status, func.count())
        .join(CallSession, CallSession.id == Recommendation.call_session_id)
        .where(*owned(workspace_id, user_id), Recommendation.feedback_status != DbFeedback.NONE)
        .group_by(Recommendation.kind, Recommendation.feedback_status)
    )
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for kind, status, count in await session.execute(query):
        out[kind][0 if status is DbFeedback.LIKED else 1] += int(count)
    return {kind: (likes, dislikes) for kind, (likes, dislikes) in out.items()}


async def add_agent_run(session: AsyncSession, run: AgentRun) -> bool:
    return await insert_for_call(
        session,
        AgentRunRow.__table__,  # type: ignore[arg-type]
        {
            "id": run.id,
            "call_session_id": run.call_id,
            "block_id": run.block_id,
            "agent": run.agent,
            "input": run.input,
            "rule_or_prompt": run.rule_or_prompt,
            "output": run.output,
            "provider": run.provider,
            "latency_ms": run.latency_ms,
            "error": run.error,
            "created_at": run.created_at,
        },
        workspace_id=run.tenant,
        user_id=run.user_id,
        call_id=run.call_id,
    )


async def list_agent_runs(session: AsyncSession, *, scope: Scope, call_id: str) -> list[AgentRunRecord]:
    rows = await session.scalars(
        select(AgentRunRow)
        .join(CallSession, CallSession.id == AgentRunRow.call_session_id)
        .where(AgentRunRow.call_session_id == call_id, *scope)
        .order_by(AgentRunRow.created_at, AgentRunRow.id)
    )
    runs = [AgentRunRecord.model_validate(r) for r in rows]
    if not runs:
        return runs
    # an agent answers a block once, and its tips are saved with that block's id
    produced: defaultdict[tuple[str | None, str], list[str]] = defaultdict(list)
    tips = await session.execute(
        select(Recommendation.id, Recommendation.block_id, Recommendation.agent)
        .where(Recommendation.call_session_id == call_id)
        .order_by(Recommendation.created_at, Recommendation.id)
    )
    for tip_id, block_id, agent in tips:
        produced[(block_id, agent)].append(tip_id)
    return [r.model_copy(update={"insight_ids": produced.get((r.block_id, r.agent), [])}) for r in runs]


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the week containing `now`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


async def _top(
    session: AsyncSession, scope: Scope, label: ColumnElement[Any], condition: ColumnElement[bool]
) -> list[CountItem]:
    """The TOP_N values of `label` by the number of calls they came up in."""
    calls = func.count(func.distinct(Recommendation.call_session_id))
    query = (
        select(label, calls)
        .join(CallSession, CallSession.id == Recommendation.call_session_id)
        .where(*scope, condition)
        .group_by(label)
        .order_by(calls.desc(), label)
        .limit(TOP_N)
    )
    return [CountItem(name=str(name), count=int(n)) for name, n in await session.execute(query)]


async def stats(session: AsyncSession, *, scope: Scope, now: datetime) -> Stats:
    """Dashboard figures over the calls `scope` selects."""
    since = week_start(now)
    week = (
        await session.execute(
            select(CallSession.start_time, CallSession.end_time).where(
                *scope, CallSession.start_time >= since
            )
        )
    ).all()
    seconds = sum(max(0.0, (end - start).total_seconds()) for start, end in week if end is not None)
    total = await session.scalar(
        select(func.count()).select_from(CallSession).where(*scope)
    )
    by_status: dict[DbFeedback, int] = defaultdict(int)
    status_query = (
        select(Recommendation.feedback_status, func.count())
        .join(CallSession, CallSession.id == Recommendation.call_session_id)
        .where(*scope)
        .group_by(Recommendation.feedback_status)
    )
    for status, count in await session.execute(status_query):
        by_status[status] += int(count)
    shown = sum(by_status.values())
    # the share liked is over the tips the rep rated: unrated tips say nothing either way
    rated = by_status[DbFeedback.LIKED] + by_status[DbFeedback.DISLIKED]
    prefix = Recommendation.kind.like("objection.%")
    objections = await _top(session, scope, func.substr(Recommendation.kind, len("objection.") + 1), prefix)
    competitor = and_(
        Recommendation.entity.is_not(None),
        or_(Recommendation.kind.like("competitor.%"), Recommendation.category == "Competitor"),
    )
    competitors = await _top(session, scope, Recommendation.entity.expression, competitor)
    return Stats(
        calls_this_week=len(week),
        minutes_this_week=round(seconds / 60.0, 1),
        total_calls=int(total or 0),
        insights_shown=shown,
        insights_liked=by_status[DbFeedback.LIKED],
        insights_disliked=by_status[DbFeedback.DISLIKED],
        insights_rated=rated,
        liked_share=(by_status[DbFeedback.LIKED] / rated) if rated else None,
        top_objections=objections,
        top_competitors=competitors,
        avg_rep_talk_ratio=await _avg_talk_ratio(session, scope),
    )


async def _avg_talk_ratio(session: AsyncSession, scope: Scope) -> float | None:
    per_call = totals_by_call(await session.execute(talk_by_call(*scope)))
    ratios = [r for r in map(rep_ratio, per_call.values()) if r is not None]
    return round(sum(ratios) / len(ratios), 3) if ratios else None
