"""Sentiment per customer segment, saved live.

Revision ID: 0007a
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007a"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_sentiments",
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column(
            "call_session_id",
            sa.String(36),
            sa.ForeignKey("call_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
    )
    op.create_index("ix_segment_sentiments_call_start", "segment_sentiments", ["call_session_id", "start"])


def downgrade() -> None:
    op.drop_index("ix_segment_sentiments_call_start", table_name="segment_sentiments")
    op.drop_table("segment_sentiments")
