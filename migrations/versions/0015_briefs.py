"""Community briefs written by the scheduled job: one row per brief made (or that failed).

- ``brief_history``: the community (its name kept too, should the boundary set go), the month the
  brief reports on, who it was made for ('partner' or 'police'), where it was written, the file's
  SHA-256, when, and whether it was written or failed (with the error in words).

Only the service's own role writes and reads it (the scheduled job and ``hotspots briefs``); the
restricted role that partners' requests run as gets no grant: paths on the server are not theirs to see.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import ID, now_default

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brief_history",
        sa.Column("id", ID, primary_key=True),
        sa.Column("community_id", sa.BigInteger, sa.ForeignKey("communities.id", ondelete="SET NULL")),
        sa.Column("community", sa.Text, nullable=False),
        sa.Column("period", sa.Text),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.CheckConstraint("status IN ('written', 'failed')", name="brief_status_known"),
        sa.CheckConstraint("audience IN ('partner', 'police')", name="brief_audience_known"),
        sa.CheckConstraint("(status = 'written') = (sha256 IS NOT NULL)", name="brief_written_has_sha256"),
    )
    op.create_index("ix_brief_history_path", "brief_history", ["path"])
    op.create_index("ix_brief_history_made_at", "brief_history", ["made_at"])


def downgrade() -> None:
    op.drop_index("ix_brief_history_made_at", "brief_history")
    op.drop_index("ix_brief_history_path", "brief_history")
    op.drop_table("brief_history")
