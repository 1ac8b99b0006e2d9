"""Workspaces: the tenant becomes a sales team's workspace (roles, invitations, playbooks,
coaching comments). Every existing user becomes the admin of a one-person workspace whose id is
the user's id, so existing tenant keys (shard hashes, caches, placements) keep their value.

Tenant tables (call_sessions, documents, document_chunks, vocabulary_terms) get a
`workspace_id` column filled from `user_id`, which stays as the row's owner (the rep of a call,
who uploaded a document, who added a term). That column has no foreign key: SQLite cannot add
a constrained NOT NULL column without rebuilding the table, and rebuilding call_sessions would
break the rowids its full-text triggers follow. Rows are scoped by value, like every tenant key.

Revision ID: 0004
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
TENANT_TABLES = ("call_sessions", "documents", "document_chunks", "vocabulary_terms")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "workspaces",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
    )
    op.execute("INSERT INTO workspaces (id, name, created_at) SELECT id, name, created_at FROM users")
    if sqlite:  # SQLite takes a REFERENCES clause on ADD COLUMN (default NULL), not ADD CONSTRAINT
        op.execute("ALTER TABLE users ADD COLUMN workspace_id VARCHAR(36) REFERENCES workspaces (id)")
    else:
        op.add_column("users", sa.Column("workspace_id", ID, nullable=True))
        op.create_foreign_key("fk_users_workspace_id", "users", "workspaces", ["workspace_id"], ["id"])
    op.add_column("users", sa.Column("role", sa.String(16), nullable=False, server_default="rep"))
    op.add_column("users", sa.Column("manager_id", ID, nullable=True))
    op.add_column("users", _ts("removed_at", nullable=True))
    op.execute("UPDATE users SET workspace_id = id, role = 'admin'")
    op.create_index("ix_users_workspace_id", "users", ["workspace_id"])

    for table in TENANT_TABLES:
        op.add_column(table, sa.Column("workspace_id", ID, nullable=False, server_default=""))
        op.execute(f"UPDATE {table} SET workspace_id = user_id")  # noqa: S608 - fixed names
        if not sqlite:  # the default only served the existing rows
            op.alter_column(table, "workspace_id", server_default=None)
    op.create_index("ix_call_sessions_workspace_start", "call_sessions", ["workspace_id", "start_time"])
    op.create_index("ix_documents_workspace_id", "documents", ["workspace_id"])
    op.create_index("ix_document_chunks_workspace_id", "document_chunks", ["workspace_id"])
    op.create_index(
        "uq_vocabulary_terms_workspace_term", "vocabulary_terms", ["workspace_id", "term_key"], unique=True
    )

    # placements are per workspace now: a new table keyed by it (no table references the old)
    op.create_table(
        "workspace_placements",
        sa.Column("workspace_id", ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("shard", sa.String(64), nullable=False),
        sa.Column("moving_to", sa.String(64), nullable=True),
        _ts("updated_at"),
    )
    op.execute(
        "INSERT INTO workspace_placements (workspace_id, shard, moving_to, updated_at) "
        "SELECT user_id, shard, moving_to, updated_at FROM tenant_placements"
    )
    op.drop_table("tenant_placements")

    op.create_table(
        "invitations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("workspace_id", ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("manager_id", ID, nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", ID, nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("accepted_at", nullable=True),
        sa.Column("accepted_by", ID, nullable=True),
        _ts("revoked_at", nullable=True),
    )
    op.create_index("ix_invitations_workspace_id", "invitations", ["workspace_id"])
    op.create_table(
        "playbook_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("workspace_id", ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("restored_from", sa.Integer, nullable=True),
        _ts("created_at"),
        sa.UniqueConstraint("workspace_id", "version", name="uq_playbook_versions_workspace_version"),
    )
    op.create_table(
        "call_comments",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "call_session_id", ID, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("at_seconds", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_call_comments_call_created", "call_comments", ["call_session_id", "created_at"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_table("call_comments")
    op.drop_table("playbook_versions")
    op.drop_table("invitations")
    op.create_table(
        "tenant_placements",
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("shard", sa.String(64), nullable=False),
        sa.Column("moving_to", sa.String(64), nullable=True),
        _ts("updated_at"),
    )
    # a workspace's placement goes back to its founder (migrated workspaces share the id)
    op.execute(
        "INSERT INTO tenant_placements (user_id, shard, moving_to, updated_at) "
        "SELECT p.workspace_id, p.shard, p.moving_to, p.updated_at FROM workspace_placements p "
        "WHERE p.workspace_id IN (SELECT id FROM users)"
    )
    op.drop_table("workspace_placements")
    op.drop_index("uq_vocabulary_terms_workspace_term", "vocabulary_terms")
    op.drop_index("ix_document_chunks_workspace_id", "document_chunks")
    op.drop_index("ix_documents_workspace_id", "documents")
    op.drop_index("ix_call_sessions_workspace_start", "call_sessions")
    for table in TENANT_TABLES:
        op.drop_column(table, "workspace_id")
    op.drop_index("ix_users_workspace_id", "users")
    for column in ("removed_at", "manager_id", "role"):
        op.drop_column("users", column)
    if sqlite:
        # SQLite drops a column only when no constraint uses it, and rebuilding `users` would
        # cascade-delete every call: the column stays, empty (nothing before 0004 reads it)
        op.execute("UPDATE users SET workspace_id = NULL")
    else:
        op.drop_constraint("fk_users_workspace_id", "users", type_="foreignkey")
        op.drop_column("users", "workspace_id")
    op.drop_table("workspaces")
