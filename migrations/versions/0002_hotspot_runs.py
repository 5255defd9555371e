"""Hotspot runs and their per-cell results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import (
    ID,
    bbox_columns,
    geometry,
    gist_index,
    json_type,
    now_default,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hotspot_runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("stage", sa.Text),
        sa.Column("parameters", json_type(), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("boundary_set_id", sa.BigInteger, sa.ForeignKey("boundary_sets.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", TZ, nullable=False, server_default=now_default()),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
        sa.Column("error", sa.Text),
        sa.Column("provenance", json_type()),
        sa.CheckConstraint("status IN ('queued','running','completed','failed')", name="status_known"),
    )
    op.create_index("ix_hotspot_runs_status", "hotspot_runs", ["status"])
    op.create_table(
        "hotspot_cells",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("community_id", sa.BigInteger, nullable=False),
        sa.Column("incidents", sa.Integer, nullable=False),
        sa.Column("gi_z", sa.Float),
        sa.Column("gi_p", sa.Float),
        sa.Column("gi_p_sim", sa.Float),
        sa.Column("gi_p_fdr", sa.Float),
        sa.Column("gi_bin", sa.SmallInteger, nullable=False),
        sa.Column("lisa_i", sa.Float),
        sa.Column("lisa_quadrant", sa.SmallInteger, nullable=False),
        sa.Column("lisa_p_sim", sa.Float),
        sa.Column("lisa_p_fdr", sa.Float),
        sa.Column("lisa_label", sa.Text, nullable=False),
        sa.Column("geom", geometry("POLYGON"), nullable=False),
        *bbox_columns(),
    )
    gist_index("ix_hotspot_cells_geom", "hotspot_cells", sqlite_leading=("run_id",))
    op.create_index("ix_hotspot_cells_run_community", "hotspot_cells", ["run_id", "community_id"])


def downgrade() -> None:
    op.drop_table("hotspot_cells")
    op.drop_table("hotspot_runs")
