"""Initial schema: users, calls, transcript, recommendations, agent runs, knowledge base, FTS.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
EXT_ID = sa.String(64)

# PostgreSQL: expression GIN indexes; queries must repeat these expressions exactly
PG_CALL_TSV = (
    "to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' "
    "|| coalesce(full_transcript, ''))"
)
PG_SEGMENT_TSV = "to_tsvector('english', text)"

# SQLite: FTS5 tables kept in step by triggers. The FTS rowid is the base row's rowid (cheap
# deletes); the id columns are what searches return, so results stay right even if a VACUUM
# ever renumbered rowids.
SQLITE_FTS = [
    """CREATE VIRTUAL TABLE call_sessions_fts USING fts5(
        call_id UNINDEXED, title, summary, full_transcript, tokenize='porter unicode61')""",
    """CREATE TRIGGER call_sessions_fts_ai AFTER INSERT ON call_sessions BEGIN
        INSERT INTO call_sessions_fts(rowid, call_id, title, summary, full_transcript)
        VALUES (new.rowid, new.id, new.title, coalesce(new.summary, ''),
                coalesce(new.full_transcript, ''));
    END""",
    """CREATE TRIGGER call_sessions_fts_au AFTER UPDATE OF title, summary, full_transcript
    ON call_sessions BEGIN
        DELETE FROM call_sessions_fts WHERE rowid = old.rowid AND call_id = old.id;
        INSERT INTO call_sessions_fts(rowid, call_id, title, summary, full_transcript)
        VALUES (new.rowid, new.id, new.title, coalesce(new.summary, ''),
                coalesce(new.full_transcript, ''));
    END""",
    """CREATE TRIGGER call_sessions_fts_ad AFTER DELETE ON call_sessions BEGIN
        DELETE FROM call_sessions_fts WHERE rowid = old.rowid AND call_id = old.id;
    END""",
    """CREATE VIRTUAL TABLE transcript_segments_fts USING fts5(
        segment_id UNINDEXED, call_id UNINDEXED, text, tokenize='porter unicode61')""",
    """CREATE TRIGGER transcript_segments_fts_ai AFTER INSERT ON transcript_segments BEGIN
        INSERT INTO transcript_segments_fts(rowid, segment_id, call_id, text)
        VALUES (new.rowid, new.id, new.call_session_id, new.text);
    END""",
    """CREATE TRIGGER transcript_segments_fts_au AFTER UPDATE OF text ON transcript_segments
    BEGIN
        DELETE FROM transcript_segments_fts WHERE rowid = old.rowid AND segment_id = old.id;
        INSERT INTO transcript_segments_fts(rowid, segment_id, call_id, text)
        VALUES (new.rowid, new.id, new.call_session_id, new.text);
    END""",
    """CREATE TRIGGER transcript_segments_fts_ad AFTER DELETE ON transcript_segments BEGIN
        DELETE FROM transcript_segments_fts WHERE rowid = old.rowid AND segment_id = old.id;
    END""",
]


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _call_fk() -> sa.Column[str]:
    return sa.Column(
        "call_session_id", ID, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"),
        nullable=False,
    )


def _user_fk() -> sa.Column[str]:
    return sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "call_sessions",
        sa.Column("id", ID, primary_key=True),
        _user_fk(),
        sa.Column("title", sa.String(500), nullable=False),
        _ts("start_time"),
        _ts("end_time", nullable=True),
        sa.Column("full_transcript", sa.Text, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
    )
    op.create_index("ix_call_sessions_user_id", "call_sessions", ["user_id"])
    op.create_table(
        "recommendations",
        sa.Column("id", ID, primary_key=True),
        _call_fk(),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("context_snippet", sa.Text, nullable=False),
        sa.Column(
            "feedback_status",
            sa.Enum("NONE", "LIKED", "DISLIKED", name="feedback_status"),
            nullable=False,
        ),
        _ts("created_at"),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("entity", sa.String(200), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("block_id", EXT_ID, nullable=True),
    )
    op.create_index("ix_recommendations_call_session_id", "recommendations", ["call_session_id"])
    op.create_table(
        "transcript_segments",
        sa.Column("id", EXT_ID, primary_key=True),
        _call_fk(),
        sa.Column("speaker", sa.String(64), nullable=True),
        sa.Column("channel", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        _ts("created_at"),
    )
    op.create_index(
        "ix_transcript_segments_call_start", "transcript_segments", ["call_session_id", "start"]
    )
    op.create_table(
        "agent_runs",
        sa.Column("id", EXT_ID, primary_key=True),
        _call_fk(),
        sa.Column("block_id", EXT_ID, nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("rule_or_prompt", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_agent_runs_call_created", "agent_runs", ["call_session_id", "created_at"])
    op.create_table(
        "key_moments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _call_fk(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at_seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_key_moments_call_session_id", "key_moments", ["call_session_id"])
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _call_fk(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_action_items_call_session_id", "action_items", ["call_session_id"])
    op.create_table(
        "documents",
        sa.Column("id", ID, primary_key=True),
        _user_fk(),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_documents_user_id", "documents", ["user_id"])
    op.create_table(
        "document_chunks",
        sa.Column("id", ID, primary_key=True),
        _user_fk(),
        sa.Column(
            "document_id", ID, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_document_chunks_user_id", "document_chunks", ["user_id"])
    op.create_index(
        "ix_document_chunks_document_position", "document_chunks", ["document_id", "position"]
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_call_sessions_fts ON call_sessions USING gin (({PG_CALL_TSV}))")
        op.execute(
            "CREATE INDEX ix_transcript_segments_fts ON transcript_segments "
            f"USING gin (({PG_SEGMENT_TSV}))"
        )
    elif dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("transcript_segments_fts", "call_sessions_fts"):
            op.execute(f"DROP TABLE IF EXISTS {name}")  # its triggers go with the base tables
    for table in (
        "revoked_tokens", "document_chunks", "documents", "action_items", "key_moments",
        "agent_runs", "transcript_segments", "recommendations", "call_sessions", "users",
    ):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP TYPE IF EXISTS feedback_status")
