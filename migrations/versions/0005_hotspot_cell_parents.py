"""Coarser H3 parents of a run's cells, for low-zoom vector tiles.

A z10 tile of resolution-10 cells is ~1.6 MB; low zooms draw H3 parents
instead. Their exact hexagons need the h3 library (the database has no h3
extension), so they are computed once per finished run and stored here, which
keeps every tile one indexed query (see app/store/tiles.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import bbox_columns, geometry, gist_index

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotspot_cell_parents",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("resolution", sa.SmallInteger, primary_key=True),
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("incidents", sa.BigInteger, nullable=False),
        sa.Column("gi_bin", sa.SmallInteger, nullable=False),
        sa.Column("hot_cells", sa.Integer, nullable=False),
        sa.Column("cold_cells", sa.Integer, nullable=False),
        sa.Column("geom", geometry("POLYGON"), nullable=False),
        *bbox_columns(),
    )
    gist_index("ix_hotspot_cell_parents_geom", "hotspot_cell_parents", sqlite_leading=("run_id", "resolution"))


def downgrade() -> None:
    op.drop_table("hotspot_cell_parents")
