"""Trends over a range (week, month, quarter) for the dashboard: calls and minutes, talk ratio
per call, objections and competitors, and tips shown and liked, per day (a week's range) or
per week (Monday 00:00 UTC), for one rep or several (a manager's team, an admin's workspace:
then also per rep). Three small queries over the range, bucketed here, so SQLite and
PostgreSQL give the same answer. Who may see whose trends is the API's decision (api/analysis.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select

from wingman.store.models import CallSession, FeedbackStatus, Recommendation
from wingman.store.records import Record, UtcDatetime
from wingman.store.repos import Store
from wingman.store.talktime import talk_by_call, totals_by_call
from wingman.talktime import rep_ratio

Range = Literal["week", "month", "quarter"]
DAYS: dict[str, int] = {"week": 7, "month": 30, "quarter": 91}


class TrendBucket(Record):
    start: UtcDatetime  # the day or the Monday this bucket starts
    calls: int
    minutes: float  # finished calls
    tips_shown: int
    tips_liked: int
    objections: dict[str, int]  # objection kind -> calls it came up in
    competitors: dict[str, int]  # competitor -> calls it came up in


class CallTrend(Record):
    id: str
    title: str
    start_time: UtcDatetime
    minutes: float | None
    rep_talk_ratio: float | None  # rep / (rep + customer) speaking time


class RepTrend(Record):
    """One rep's figures over the range (a team's trends list one per rep)."""

    user_id: str
    name: str = ""  # filled in by the API from the members list
    calls: int
    minutes: float
    rep_talk_ratio: float | None  # over all their calls with both speakers
    objections: int  # objection kinds heard, once per call
    tips_shown: int
    tips_liked: int
    calls_per_bucket: list[int]  # aligned with Trends.buckets


class Trends(Record):
    range: str
    bucket: Literal["day", "week"]
    since: UtcDatetime
    scope: str = "me"  # me | team | the id of one rep
    buckets: list[TrendBucket]
    calls: list[CallTrend]
    reps: list[RepTrend] = []  # per rep, for a team (empty for one rep's own trends)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor(at: datetime, bucket: str) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


async def trends(
    store: Store,
    *,
    user_id: str,
    range_: Range,
    now: datetime,
    workspace_id: str | None = None,
    reps: Collection[str] | None = None,
    scope: str = "me",
) -> Trends:
    """Trends over the last `range_` up to `now`, every bucket present (zeros too), of the
    calls of `reps` (default: `user_id` alone) in `workspace_id` (default: the user id, a
    founder's workspace id). With `reps`, per-rep figures too (`Trends.reps`)."""
    bucket: Literal["day", "week"] = "day" if range_ == "week" else "week"
    first = _floor(now - timedelta(days=DAYS[range_] - 1), bucket)
    tenant = workspace_id or user_id
    whose = sorted(reps) if reps is not None else [user_id]
    scoped = (
        CallSession.workspace_id == tenant, CallSession.user_id.in_(whose), CallSession.start_time >= first
    )
    async with store.tenant_tx(tenant, write=False) as s:
        calls = (
            await s.execute(
                select(
                    CallSession.id, CallSession.title, CallSession.start_time, CallSession.end_time,
                    CallSession.user_id,
                )
                .where(*scoped)
                .order_by(CallSession.start_time)
            )
        ).all()
        in_range = select(CallSession.id).where(*scoped)
        recs = (
            await s.execute(
                select(
                    Recommendation.call_session_id,
                    Recommendation.kind,
                    Recommendation.category,
                    Recommendation.entity,
                    Recommendation.feedback_status,
                ).where(Recommendation.call_session_id.in_(in_range.scalar_subquery()))
            )
        ).all()
        talk = (await s.execute(talk_by_call(*scoped))).all()
    step = timedelta(days=1 if bucket == "day" else 7)
    starts, at = [], first
    while at <= now:
        starts.append(at)
        at += step
    bucket_of = {cid: _floor(_aware(start), bucket) for cid, _, start, _, _ in calls}
    spoken = totals_by_call(talk)
    counts: dict[datetime, Counter[str]] = defaultdict(Counter)
    minutes: dict[datetime, float] = defaultdict(float)
    objections: dict[datetime, set[tuple[str, str]]] = defaultdict(set)
    competitors: dict[datetime, set[tuple[str, str]]] = defaultdict(set)
    call_out = []
    per_rep = {rep: _RepTally(len(starts)) for rep in (whose if reps is not None else ())}
    rep_of = {cid: rep for cid, _, _, _, rep in calls}
    position = {b: i for i, b in enumerate(starts)}
    for cid, title, start, end, rep in calls:
        b = bucket_of[cid]
        counts[b]["calls"] += 1
        length = max(0.0, (_aware(end) - _aware(start)).total_seconds()) / 60 if end is not None else None
        minutes[b] += length or 0.0
        if rep in per_rep and b in position:
            per_rep[rep].add_call(position[b], length, spoken[cid])
        ratio = rep_ratio(spoken[cid])
        call_out.append(
            CallTrend(
                id=cid,
                title=title,
                start_time=start,
                minutes=round(length, 1) if length is not None else None,
                rep_talk_ratio=round(ratio, 3) if ratio is not None else None,
            )
        )
    for cid, kind, category, entity, feedback in recs:
        b = bucket_of[cid]
        counts[b]["shown"] += 1
        counts[b]["liked"] += feedback == FeedbackStatus.LIKED
        if rep_of[cid] in per_rep:
            per_rep[rep_of[cid]].add_tip(cid, kind, liked=feedback == FeedbackStatus.LIKED)
        if kind.startswith("objection."):
            objections[b].add((kind.removeprefix("objection."), cid))  # once per call
        if entity and (kind.startswith("competitor.") or category == "Competitor"):
            competitors[b].add((entity, cid))
    buckets = [
        TrendBucket(
            start=b,
            calls=counts[b]["calls"],
            minutes=round(minutes[b], 1),
            tips_shown=counts[b]["shown"],
            tips_liked=counts[b]["liked"],
            objections=dict(Counter(k for k, _ in objections[b])),
            competitors=dict(Counter(n for n, _ in competitors[b])),
        )
        for b in starts
    ]
    return Trends(
        range=range_, bucket=bucket, since=first, scope=scope, buckets=buckets, calls=call_out,
        reps=[tally.trend(rep) for rep, tally in per_rep.items()],
    )


class _RepTally:
    """One rep's running figures while the range's rows are read."""

    def __init__(self, buckets: int) -> None:
        self.per_bucket = [0] * buckets
        self.minutes = 0.0
        self.spoken = {"rep": 0.0, "customer": 0.0}
        self.objections: set[tuple[str, str]] = set()
        self.shown = 0
        self.liked = 0

    def add_call(self, bucket: int, minutes: float | None, spoken: dict[str, float]) -> None:
        self.per_bucket[bucket] += 1
        self.minutes += minutes or 0.0
        if spoken.get("rep", 0.0) + spoken.get("customer", 0.0) > 0:
            for who in self.spoken:
                self.spoken[who] += spoken.get(who, 0.0)

    def add_tip(self, call_id: str, kind: str, *, liked: bool) -> None:
        self.shown += 1
        self.liked += liked
        if kind.startswith("objection."):
            self.objections.add((kind, call_id))

    def trend(self, user_id: str) -> RepTrend:
        ratio = rep_ratio(self.spoken)
        return RepTrend(
            user_id=user_id,
            calls=sum(self.per_bucket),
            minutes=round(self.minutes, 1),
            rep_talk_ratio=round(ratio, 3) if ratio is not None else None,
            objections=len(self.objections),
            tips_shown=self.shown,
            tips_liked=self.liked,
            calls_per_bucket=self.per_bucket,
        )
