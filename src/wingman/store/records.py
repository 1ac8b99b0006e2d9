"""What the Store returns: frozen pydantic records, never ORM rows (no lazy loads, no sessions
leaking out of the store). Times are timezone-aware UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from wingman.events import FeedbackStatus


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; we only ever store UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class UserRecord(Record):
    id: str
    email: str
    name: str
    created_at: UtcDatetime
    # never serialized: only Auth reads it
    password_hash: str | None = Field(default=None, exclude=True, repr=False)


class CallRecord(Record):
    id: str
    user_id: str
    title: str
    start_time: UtcDatetime
    end_time: UtcDatetime | None = None
    summary: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Length of a finished call (its end time is set by its audio, see pipeline/finalize.py);
        None while it is in progress."""
        if self.end_time is None:
            return None
        return max(0.0, (self.end_time - self.start_time).total_seconds())


class CallPage(Record):
    items: list[CallRecord]
    total: int
    # call id -> the words that matched a search, matches marked (store/snippets.py)
    snippets: dict[str, str] = Field(default_factory=dict)


class SegmentRecord(Record):
    id: str
    call_session_id: str
    speaker: str | None
    channel: int
    text: str
    start: float
    end: float
    created_at: UtcDatetime


class RecommendationRecord(Record):
    id: str
    call_session_id: str
    content: str
    category: str
    context_snippet: str
    feedback_status: FeedbackStatus  # "none" | "liked" | "disliked"
    created_at: UtcDatetime
    agent: str
    kind: str
    source: str | None = None
    entity: str | None = None
    confidence: float | None = None
    block_id: str | None = None


class KeyMoment(Record):
    """A moment worth jumping to: an objection, a question, a next step ..."""

    kind: str
    text: str
    at: float  # seconds into the call


class KeyMomentLike(Protocol):
    """What finish_call accepts: KeyMoment or any object with the same three attributes."""

    @property
    def kind(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def at(self) -> float: ...


class CallDetail(Record):
    id: str
    user_id: str
    title: str
    start_time: UtcDatetime
    end_time: UtcDatetime | None = None
    summary: str | None = None
    full_transcript: str | None = None
    transcript: list[SegmentRecord] = Field(default_factory=list)
    recommendations: list[RecommendationRecord] = Field(default_factory=list)
    key_moments: list[KeyMoment] = Field(default_factory=list)
    action_items: list[str] = Field(default_factory=list)


class AgentRunRecord(Record):
    id: str
    call_session_id: str
    block_id: str
    agent: str
    input: str
    rule_or_prompt: str
    output: str
    provider: str
    latency_ms: float
    error: str | None = None
    created_at: UtcDatetime


class CountItem(Record):
    name: str
    count: int


class Stats(Record):
    """Dashboard figures for one user. "This week" starts Monday 00:00 UTC."""

    calls_this_week: int
    minutes_this_week: float  # finished calls only
    total_calls: int
    insights_shown: int
    insights_liked: int
    insights_disliked: int
    insights_rated: int  # liked + disliked
    liked_share: float | None  # liked / rated; None before any insight was rated
    top_objections: list[CountItem]  # name = kind after "objection."; count = calls it came up in
    top_competitors: list[CountItem]  # name = entity; count = calls it came up in
    avg_rep_talk_ratio: float | None  # mean over calls of rep / (rep + customer) speaking time


class NewChunk(BaseModel):
    """A passage to store with a document; `embedding` as float32 bytes (array.tobytes())."""

    text: str
    embedding: bytes | None = None


class DocumentRecord(Record):
    id: str
    user_id: str
    filename: str
    content_type: str
    size_bytes: int
    checksum: str | None = None
    source: str
    created_at: UtcDatetime
    chunk_count: int = 0


class ChunkRecord(Record):
    id: str
    user_id: str
    document_id: str
    filename: str
    position: int
    text: str
    embedding: bytes | None = None
