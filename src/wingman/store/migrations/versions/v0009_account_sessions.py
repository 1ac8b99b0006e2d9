"""Account sessions: every issued token is recorded (so "sign out everywhere", a password
change and account deletion can end each of a user's sessions, open sockets included), a
per-user time before which every token is refused (tokens issued before this migration), and
removed members' emails freed (they can be invited again or sign up).

A removed member keeps their row (their calls stay with the workspace) under a placeholder
email `<id>@removed.invalid` (RFC 2606: never deliverable, never valid input): the unique
email column stays as it is, which SQLite could not change without rebuilding `users`.

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
REMOVED_EMAIL_DOMAIN = "removed.invalid"


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_index("ix_auth_sessions_expires_at", "auth_sessions", ["expires_at"])
    op.add_column("users", sa.Column("sessions_revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        f"UPDATE users SET email = id || '@{REMOVED_EMAIL_DOMAIN}' WHERE removed_at IS NOT NULL"  # noqa: S608
    )


def downgrade() -> None:
    op.drop_column("users", "sessions_revoked_at")
    op.drop_index("ix_auth_sessions_expires_at", table_name="auth_sessions")
    op.drop_index("ix_auth_sessions_user_id", table_name="auth_sessions")
    op.drop_table("auth_sessions")
