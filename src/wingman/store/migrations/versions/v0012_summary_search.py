"""Search finds a call by its summary in force: a person's edit (summary_edits.text) when there
is one, else the generated summary, and no longer by words only in a replaced generated one.

SQLite: the call's FTS row indexes the summary in force; the call triggers read the edit and
new triggers on summary_edits refresh the call's row. PostgreSQL: a GIN index on the edit text
(store/fulltext.py drops the generated summary of an edited call from the match).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay identical to store/fulltext.PG_EDIT_TSV, or PostgreSQL will not use the index.
PG_EDIT_TSV = "to_tsvector('english', coalesce(text, ''))"

_COLUMNS = "call_sessions_fts(rowid, call_id, title, summary, full_transcript)"


def _refresh(call_id: str, summary: str) -> str:
    """Statements that rewrite one call's FTS row with `summary` (an SQL expression on cs)."""
    return f"""
        DELETE FROM call_sessions_fts
        WHERE rowid = (SELECT rowid FROM call_sessions WHERE id = {call_id});
        INSERT INTO {_COLUMNS}
        SELECT cs.rowid, cs.id, cs.title, {summary}, coalesce(cs.full_transcript, '')
        FROM call_sessions AS cs WHERE cs.id = {call_id};"""


def _call_triggers(summary: str) -> list[str]:
    return [
        f"""CREATE TRIGGER call_sessions_fts_ai AFTER INSERT ON call_sessions BEGIN
            INSERT INTO {_COLUMNS}
            VALUES (new.rowid, new.id, new.title, {summary}, coalesce(new.full_transcript, ''));
        END""",
        f"""CREATE TRIGGER call_sessions_fts_au AFTER UPDATE OF title, summary, full_transcript
        ON call_sessions BEGIN
            DELETE FROM call_sessions_fts WHERE rowid = old.rowid AND call_id = old.id;
            INSERT INTO {_COLUMNS}
            VALUES (new.rowid, new.id, new.title, {summary}, coalesce(new.full_transcript, ''));
        END""",
    ]


IN_FORCE = (
    "coalesce((SELECT se.text FROM summary_edits AS se WHERE se.call_session_id = new.id), "
    "new.summary, '')"
)
GENERATED = "coalesce(new.summary, '')"

SQLITE_UP = [
    "DROP TRIGGER IF EXISTS call_sessions_fts_ai",
    "DROP TRIGGER IF EXISTS call_sessions_fts_au",
    *_call_triggers(IN_FORCE),
    f"""CREATE TRIGGER summary_edits_fts_ai AFTER INSERT ON summary_edits BEGIN
        {_refresh("new.call_session_id", "coalesce(new.text, cs.summary, '')")}
    END""",
    f"""CREATE TRIGGER summary_edits_fts_au AFTER UPDATE OF text ON summary_edits BEGIN
        {_refresh("new.call_session_id", "coalesce(new.text, cs.summary, '')")}
    END""",
    f"""CREATE TRIGGER summary_edits_fts_ad AFTER DELETE ON summary_edits BEGIN
        {_refresh("old.call_session_id", "coalesce(cs.summary, '')")}
    END""",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS summary_edits_fts_ai",
    "DROP TRIGGER IF EXISTS summary_edits_fts_au",
    "DROP TRIGGER IF EXISTS summary_edits_fts_ad",
    "DROP TRIGGER IF EXISTS call_sessions_fts_ai",
    "DROP TRIGGER IF EXISTS call_sessions_fts_au",
    *_call_triggers(GENERATED),
]


def _reindex_edited(summary: str) -> list[str]:
    """Rewrite the FTS rows of the calls edited so far (made before this migration)."""
    edited = "SELECT cs.rowid FROM call_sessions AS cs JOIN summary_edits AS se ON se.call_session_id = cs.id"
    return [
        f"DELETE FROM call_sessions_fts WHERE rowid IN ({edited})",
        f"""INSERT INTO {_COLUMNS}
        SELECT cs.rowid, cs.id, cs.title, {summary}, coalesce(cs.full_transcript, '')
        FROM call_sessions AS cs JOIN summary_edits AS se ON se.call_session_id = cs.id""",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_summary_edits_fts ON summary_edits USING gin (({PG_EDIT_TSV}))")
    elif dialect == "sqlite":
        for statement in [*SQLITE_UP, *_reindex_edited("coalesce(se.text, cs.summary, '')")]:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_summary_edits_fts")
    elif dialect == "sqlite":
        for statement in [*SQLITE_DOWN, *_reindex_edited("coalesce(cs.summary, '')")]:
            op.execute(statement)
