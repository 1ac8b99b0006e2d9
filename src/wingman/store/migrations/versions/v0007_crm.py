"""CRM sync: OAuth connections per tenant and CRM, and one durable sync job per call and CRM.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "crm_connections",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("refresh_token", sa.Text, nullable=False),
        sa.Column("access_token", sa.Text, nullable=True),
        _ts("access_expires_at", nullable=True),
        sa.Column("instance_url", sa.Text, nullable=True),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("connected_by", sa.String(36), nullable=False),
        sa.Column("auto_sync", sa.Boolean, nullable=False, server_default=sa.true()),
        _ts("updated_at"),
    )
    op.create_table(
        "crm_syncs",
        sa.Column(
            "call_session_id",
            sa.String(36),
            sa.ForeignKey("call_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _ts("next_attempt_at"),
        _ts("locked_until", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("lookup_email", sa.String(320), nullable=True),
        sa.Column("lookup_company", sa.String(200), nullable=True),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("steps", sa.Text, nullable=False, server_default="{}"),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_crm_syncs_due", "crm_syncs", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_crm_syncs_due", table_name="crm_syncs")
    op.drop_table("crm_syncs")
    op.drop_table("crm_connections")
