"""CRM sync jobs know which version of the call's summary their note carries, so an edit (or a
revert) of a call already synced updates the CRM's note: `summary_version` is the version of
the summary in force (set by the edit), `note_version` the one the CRM's note was written with.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crm_syncs", sa.Column("summary_version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("crm_syncs", sa.Column("note_version", sa.Integer, nullable=False, server_default="0"))
    # calls edited before this migration: their synced notes are checked once more (a note
    # written after the edit is rewritten with the same text, harmless); next_attempt_at is
    # in the past, so the jobs are due at once
    op.execute(
        "UPDATE crm_syncs SET summary_version = (SELECT se.version FROM summary_edits AS se "
        "WHERE se.call_session_id = crm_syncs.call_session_id) "
        "WHERE call_session_id IN (SELECT call_session_id FROM summary_edits)"
    )
    op.execute(
        "UPDATE crm_syncs SET status = 'pending', attempts = 0 "
        "WHERE summary_version > note_version AND status = 'done' AND steps LIKE '%\"note\"%'"
    )


def downgrade() -> None:
    op.drop_column("crm_syncs", "note_version")
    op.drop_column("crm_syncs", "summary_version")
