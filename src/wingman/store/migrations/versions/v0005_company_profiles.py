"""Company profiles: what each tenant's company sells and whom it competes with.

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "company_profiles",
        sa.Column("id", sa.String(36), primary_key=True),
        # the tenant id string (no foreign key: the tenant may be a user or a workspace)
        sa.Column("tenant_id", sa.String(36), nullable=False, unique=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("company_profiles")
