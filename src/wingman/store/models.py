"""SQLAlchemy 2 models: the spec's tables (users, call_sessions, recommendations) plus what the
live pipeline, the agents' reasoning log and the knowledge base need.

Ids are strings (UUIDs made by the application, or ids from events) so the same schema works on
SQLite and PostgreSQL and ids cross the bus as plain `str`. Times are timezone-aware UTC.
The migration in migrations/versions is the schema's source of truth; these models mirror it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wingman.events import utcnow

ID = String(36)  # UUIDs we mint (users, calls, recommendations, documents)
EXT_ID = String(64)  # ids minted by speech engines and agents (fragments, blocks, runs)


class FeedbackStatus(enum.Enum):
    """The spec's Enum; the database stores the names (NONE, LIKED, DISLIKED)."""

    NONE = "none"
    LIKED = "liked"
    DISLIKED = "disliked"


class Base(DeclarativeBase):
    pass


def _ts(nullable: bool = False) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=nullable, default=utcnow)


class Workspace(Base):
    """The tenant: a sales team's company. Its data (calls, documents, vocabulary, playbook)
    carries its id; its people are the users whose `workspace_id` it is."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _ts()


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = _ts()
    # workspaces (migration 0004): set for every user; nullable only because SQLite adds a
    # constrained column to an existing table that way
    workspace_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("workspaces.id"), nullable=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="rep")  # admin | manager | rep
    # a rep's manager (same workspace); managers see their reps' calls
    manager_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    # removed from the workspace: cannot sign in; their calls stay with the workspace
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "sign out everywhere" (migration 0009): tokens issued before this time are refused
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CallSession(Base):
    __tablename__ = "call_sessions"
    __table_args__ = (Index("ix_call_sessions_workspace_start", "workspace_id", "start_time"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(ID)  # the tenant (see migration 0004 on the FK)
    title: Mapped[str] = mapped_column(String(500))
    start_time: Mapped[datetime] = _ts()
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    full_transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)


class Recommendation(Base):
    __tablename__ = "recommendations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("call_sessions.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    context_snippet: Mapped[str] = mapped_column(Text, default="")
    feedback_status: Mapped[FeedbackStatus] = mapped_column(
        Enum(FeedbackStatus, name="feedback_status"), default=FeedbackStatus.NONE
    )
    created_at: Mapped[datetime] = _ts()
    # beyond the spec: who made it and why, for feedback learning and stats
    agent: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    entity: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    block_id: Mapped[str | None] = mapped_column(EXT_ID, nullable=True)


class TranscriptSegment(Base):
    """One final fragment, written while the call goes on (a crash loses seconds, not the call)."""

    __tablename__ = "transcript_segments"
    __table_args__ = (Index("ix_transcript_segments_call_start", "call_session_id", "start"),)

    id: Mapped[str] = mapped_column(EXT_ID, primary_key=True)
    call_session_id: Mapped[str] = mapped_column(ID, ForeignKey("call_sessions.id", ondelete="CASCADE"))
    speaker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = _ts()


class AgentRunRow(Base):
    """An agent's reasoning about one block, kept for later review."""

    __tablename__ = "agent_runs"
    __table_args__ = (Index("ix_agent_runs_call_created", "call_session_id", "created_at"),)

    id: Mapped[str] = mapped_column(EXT_ID, primary_key=True)
    call_session_id: Mapped[str] = mapped_column(ID, ForeignKey("call_sessions.id", ondelete="CASCADE"))
    block_id: Mapped[str] = mapped_column(EXT_ID)
    agent: Mapped[str] = mapped_column(String(32))
    input: Mapped[str] = mapped_column(Text)
    rule_or_prompt: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(64))
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = _ts()


class KeyMomentRow(Base):
    __tablename__ = "key_moments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("call_sessions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at_seconds: Mapped[float] = mapped_column(Float)


class ActionItemRow(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("call_sessions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class Document(Base):
    """A knowledge-base document of one user (company docs, battlecards, FAQs)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # who uploaded it
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(ID, index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(32), default="upload")
    created_at: Mapped[datetime] = _ts()


class DocumentChunk(Base):
    """A retrievable passage; `embedding` is little-endian float32 bytes (numpy .tobytes())."""

    __tablename__ = "document_chunks"
    __table_args__ = (Index("ix_document_chunks_document_position", "document_id", "position"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(ID, index=True)
    document_id: Mapped[str] = mapped_column(ID, ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class RevokedToken(Base):
    """Logged-out tokens until they would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuthSession(Base):
    """A token issued to a user (sign-in, sign-up, password change) until it expires, so every
    session of a user can be ended at once (migration 0009)."""

    __tablename__ = "auth_sessions"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class VocabularyTerm(Base):
    """A term a user added to their vocabulary (names the speech engine and the agents must
    know). `term_key` is the case-folded term: one spelling per term and user."""

    __tablename__ = "vocabulary_terms"
    __table_args__ = (
        UniqueConstraint("user_id", "term_key", name="uq_vocabulary_terms_user_term"),
        Index("uq_vocabulary_terms_workspace_term", "workspace_id", "term_key", unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))  # who added it
    workspace_id: Mapped[str] = mapped_column(ID)
    term: Mapped[str] = mapped_column(String(64))
    term_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _ts()


class TenantPlacement(Base):
    """The directory's record of a tenant placed away from its hash shard, or being moved
    (`moving_to` set: writes refused until the copy is switched over). No row: the hash shard."""

    __tablename__ = "workspace_placements"

    workspace_id: Mapped[str] = mapped_column(
        ID, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[str] = mapped_column(String(64))
    moving_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = _ts()


# -- CRM sync (crm/): connections per tenant and CRM, and one durable sync job per call and CRM


class CrmConnectionRow(Base):
    """A tenant's OAuth grant to one CRM. Tokens are sealed (crm/secrets.py), never plain."""

    __tablename__ = "crm_connections"

    tenant_id: Mapped[str] = mapped_column(ID, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))  # connected | needs_reconnect
    refresh_token: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    instance_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    account: Mapped[str | None] = mapped_column(String(200), nullable=True)
    connected_by: Mapped[str] = mapped_column(ID)
    auto_sync: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _ts()


class CrmSyncRow(Base):
    """The job that writes one finished call to one CRM, and how far it got (`steps`: JSON
    {step: CRM id}), so a retry or another node resumes it without writing anything twice."""

    __tablename__ = "crm_syncs"
    __table_args__ = (Index("ix_crm_syncs_due", "status", "next_attempt_at"),)

    call_session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("call_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ID)
    # pending | running | done | failed | needs_reconnect | no_match
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lookup_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    lookup_company: Mapped[str | None] = mapped_column(String(200), nullable=True)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON CrmTarget
    steps: Mapped[str] = mapped_column(Text, default="{}")
    # the version of the call's summary in force (set by an edit) and the one the CRM's note
    # carries: a note behind its summary is updated in place (crm/worker.py)
    summary_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    note_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class Invitation(Base):
    """A single-use, expiring invitation to join a workspace. Only the token's SHA-256 is kept:
    the token itself is in the link and nowhere else."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    manager_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(ID, nullable=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(ID, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PlaybookVersion(Base):
    """One saved version of a workspace's playbook (the whole playbook as JSON, and what
    changed from the version before). The newest version is the one in force."""

    __tablename__ = "playbook_versions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "version", name="uq_playbook_versions_workspace_version"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID, ForeignKey("workspaces.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = _ts()


class CallComment(Base):
    """A manager's coaching comment on a moment of a call, shown to the call's rep."""

    __tablename__ = "call_comments"
    __table_args__ = (Index("ix_call_comments_call_created", "call_session_id", "created_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_session_id: Mapped[str] = mapped_column(ID, ForeignKey("call_sessions.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))
    author_name: Mapped[str] = mapped_column(String(200))
    at_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


class SegmentSentimentRow(Base):
    """The customer's sentiment in one final transcript segment (sentiment/), saved live."""

    __tablename__ = "segment_sentiments"
    __table_args__ = (Index("ix_segment_sentiments_call_start", "call_session_id", "start"),)

    segment_id: Mapped[str] = mapped_column(EXT_ID, primary_key=True)
    call_session_id: Mapped[str] = mapped_column(ID, ForeignKey("call_sessions.id", ondelete="CASCADE"))
    start: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)  # [-1, 1]
    label: Mapped[str] = mapped_column(String(16))  # positive | neutral | negative


# -- company profile (tips/agents area)
class CompanyProfileRow(Base):
    """A tenant's company profile (wingman.profile.CompanyProfile as JSON). Keyed by the tenant
    id string, without a foreign key, so it follows whatever the tenant is (user or workspace)."""

    __tablename__ = "company_profiles"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ID, unique=True)
    profile: Mapped[dict[str, object]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="user")
    updated_at: Mapped[datetime] = _ts()


# -- speakers: the rep's enrolled voice (src/wingman/speakers)
class Voiceprint(Base):
    """A user's voice, enrolled once with a short voice check: the mean speaker embedding of
    their speech (`model` names the embedding model; prints of another model are not compared)."""

    __tablename__ = "voiceprints"

    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian
    seconds: Mapped[float] = mapped_column(Float)  # speech it was made from
    created_at: Mapped[datetime] = _ts()


# -- recordings (src/wingman/recordings): each workspace's choice, and each recorded call's audio
class RecordingSettingsRow(Base):
    """Whether a workspace records its calls (opt-in, off by default) and for how long it
    keeps them (None: as long as the call)."""

    __tablename__ = "recording_settings"

    workspace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(ID)
    updated_at: Mapped[datetime] = _ts()


class RecordingRow(Base):
    """One call's audio. No foreign key to the call: when a call is deleted (retention, shard
    cleanup) the recordings sweep finds the row alone and deletes its file with it."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_status", "status", "node"),)

    call_session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(16))  # recording | ready | failed | deleted
    node: Mapped[str] = mapped_column(String(128))  # whose disk holds the audio being recorded
    path: Mapped[str] = mapped_column(Text)  # under the recordings directory
    media_type: Mapped[str] = mapped_column(String(64))
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    deleted_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)  # retention | deleted
    created_at: Mapped[datetime] = _ts()
    finished_at: Mapped[datetime | None] = _ts(nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# -- summary edits (store/summaries.py): a person's edit of a call's generated summary
class SummaryEditRow(Base):
    """The edited summary of one call. The generated summary stays in call_sessions.summary and
    action_items, so "revert to generated" clears `text` and keeps the row: `version` only grows,
    and an edit started from an older version is refused (409)."""

    __tablename__ = "summary_edits"

    call_session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("call_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: the generated one is in force
    action_items: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    edited_by: Mapped[str] = mapped_column(ID)
    edited_by_name: Mapped[str] = mapped_column(String(200))
    edited_at: Mapped[datetime] = _ts()
