"""What the Store returns: frozen pydantic records, never ORM rows (no lazy loads, no sessions
leaking out of the store). Times are timezone-aware UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from wingman.events import FeedbackStatus


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; we only ever store UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


Role = Literal["admin", "manager", "rep"]
ROLES: tuple[Role, ...] = ("admin", "manager", "rep")


class UserRecord(Record):
    id: str
    email: str
    name: str
    created_at: UtcDatetime
    # never serialized: only Auth reads it
    password_hash: str | None = Field(default=None, exclude=True, repr=False)
    # the workspace (tenant) and the user's place in it; "" only for a record made before
    # the user was stored
    workspace_id: str = ""
    role: Role = "rep"
    manager_id: str | None = None
    removed_at: UtcDatetime | None = None
    # tokens issued before this time are refused ("sign out everywhere", password change)
    sessions_revoked_at: UtcDatetime | None = Field(default=None, exclude=True, repr=False)


class WorkspaceRecord(Record):
    id: str
    name: str
    created_at: UtcDatetime


class InvitationRecord(Record):
    id: str
    workspace_id: str
    email: str
    role: Role
    manager_id: str | None = None
    invited_by: str | None = None
    created_at: UtcDatetime
    expires_at: UtcDatetime
    accepted_at: UtcDatetime | None = None
    accepted_by: str | None = None
    revoked_at: UtcDatetime | None = None


class Viewer(Record):
    """Whose calls a signed-in user may read: their own, their reps' (a manager) or every
    call of the workspace (an admin, `everyone`). Built by Store.viewer from the directory."""

    workspace_id: str
    user_id: str
    role: Role
    team: frozenset[str] = frozenset()  # the manager's reps
    everyone: bool = False

    @classmethod
    def own(cls, user: UserRecord) -> Viewer:
        """A viewer of `user`'s own calls only, whatever their role (live calls, own stats)."""
        return cls(workspace_id=user.workspace_id, user_id=user.id, role=user.role)

    @classmethod
    def owner(cls, workspace_id: str, user_id: str) -> Viewer:
        """A viewer of one user's own calls (the gateway and the finalizer act as the rep)."""
        return cls(workspace_id=workspace_id, user_id=user_id, role="rep")

    @classmethod
    def workspace(cls, workspace_id: str) -> Viewer:
        """Every call of a workspace, for background work done for the workspace itself
        (CRM sync, quotas): never for a request."""
        return cls(workspace_id=workspace_id, user_id="", role="admin", everyone=True)

    def sees(self, user_id: str) -> bool:
        """Whether calls of `user_id` are visible to this viewer."""
        return self.everyone or user_id == self.user_id or user_id in self.team


class PlaybookVersionRecord(Record):
    workspace_id: str
    version: int
    content: str  # the playbook as JSON
    changes: str
    author_id: str | None = None
    author_name: str = ""
    restored_from: int | None = None
    created_at: UtcDatetime


class CommentRecord(Record):
    id: str
    call_session_id: str
    author_id: str
    author_name: str
    at_seconds: float | None = None
    text: str
    created_at: UtcDatetime


class CallRecord(Record):
    id: str
    user_id: str
    workspace_id: str = ""
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


class CallDetail(CallRecord):
    """A call with everything said and shown in it (the call page)."""

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
    user_id: str  # who added it
    workspace_id: str = ""
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
    workspace_id: str = ""
    document_id: str
    filename: str
    position: int
    text: str
    embedding: bytes | None = None
