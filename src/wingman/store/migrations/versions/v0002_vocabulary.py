"""Vocabulary: the terms each user adds to the names speech recognition and the agents know.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "vocabulary_terms",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("term_key", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # leads with user_id: also the index for reading one user's terms
        sa.UniqueConstraint("user_id", "term_key", name="uq_vocabulary_terms_user_term"),
    )


def downgrade() -> None:
    op.drop_table("vocabulary_terms")
