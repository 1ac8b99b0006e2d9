"""Summary edits: a person's edit of a call's generated summary and action items, with who
edited it, when, and an optimistic version (the generated summary stays where it was).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "summary_edits",
        sa.Column(
            "call_session_id", ID, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("action_items", sa.JSON, nullable=True),
        sa.Column("edited_by", ID, nullable=False),
        sa.Column("edited_by_name", sa.String(200), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("summary_edits")
