"""Which worker runs an analysis, and when it last said it was alive.

Several service processes can share one database (replicas, or a restart
while another runs): at start-up, and every minute, a worker fails only the
runs whose worker is gone (a process of this host that no longer exists, or
no heartbeat for a while), never the runs another live worker is executing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotspot_runs") as batch:
        batch.add_column(sa.Column("worker", sa.Text))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("hotspot_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
