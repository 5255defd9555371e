"""Residents and smoothed rate of each cell of a rate run (hot spots of risk, issue 17).

A hotspot run with ``value: rate`` analyses each cell's Empirical Bayes rate per
1,000 residents, the communities' populations spread onto the cells by area;
these two columns keep what was analysed, for the map and the police CSV. They
are NULL for runs of counts.

They are police figures (a cell's rate and residents give back its exact count):
the restricted role's column grant on ``hotspot_cells`` (0009) does not include
them, and the published view does not select them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import drop_columns

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = ("residents", "smoothed_rate")


def upgrade() -> None:
    # A plain ADD COLUMN on both stores: SQLite's batch mode would rebuild the table, which the
    # published views read.
    for name in COLUMNS:
        op.add_column("hotspot_cells", sa.Column(name, sa.Float))


def downgrade() -> None:
    drop_columns("hotspot_cells", *reversed(COLUMNS))
