"""Runs have a kind: which analysis they are (its cells, classes, tiles and exports).

Every run stored so far is a Gi* + local Moran run, the kind called 'hotspot'
(spatial/kinds/hotspot.py), so that is the column's default.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import drop_columns

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotspot_runs") as batch:
        batch.add_column(sa.Column("kind", sa.Text, nullable=False, server_default="hotspot"))


def downgrade() -> None:
    drop_columns("hotspot_runs", "kind")
