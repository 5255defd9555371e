"""Emerging hot spot runs: each cell's pattern over time, its per-step Gi* classes, and their parents.

A run of kind 'emerging' (spatial/kinds/emerging.py) stores one row per cell:
its Emerging Hot Spot category (signed code and words), the Mann-Kendall trend
of its Gi* z-scores, and its series per time step as text (the Gi_Bin class of
each step, and the count of each step for police), so one vector tile carries
what the map's time slider and sparkline need.

Below analyst, ``published_emerging_cells`` and ``published_emerging_cell_parents``
are read instead (as 0009 does for Gi* runs): shared runs only, the period's
count under k NULL, a parent's count the sum of its published children, classes
only — never a statistic or a per-step count (a step's count beside the period's
total would let anyone solve a hidden step).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import bbox_columns, geometry, gist_index, is_sqlite, postgres

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"
K = "(SELECT greatest(min_count, 3) FROM privacy_rules WHERE id = 1)"
SQLITE_K = "(SELECT max(min_count, 3) FROM privacy_rules WHERE id = 1)"
SHARED_RUN = "EXISTS (SELECT 1 FROM hotspot_runs r WHERE r.id = run_id AND r.audience = 'shared')"


def _views(k: str) -> list[str]:
    box = ", h.west, h.south, h.east, h.north" if is_sqlite() else ""
    parent_box = ", p.west, p.south, p.east, p.north" if is_sqlite() else ""
    barrier = "" if is_sqlite() else " WITH (security_barrier)"
    return [
        f"CREATE VIEW published_emerging_cells{barrier} AS "
        f"SELECT h.run_id, h.cell, h.community_id, CASE WHEN h.incidents >= {k} THEN h.incidents END AS incidents, "
        f"h.category, h.pattern, h.step_classes, h.geom{box} "
        "FROM emerging_cells h JOIN hotspot_runs r ON r.id = h.run_id WHERE r.audience = 'shared'",
        f"CREATE VIEW published_emerging_cell_parents{barrier} AS "
        "SELECT p.run_id, p.resolution, p.cell, p.cells, "
        f"CASE WHEN p.published_min_count >= {k} THEN nullif(p.published_incidents, 0) END AS incidents, "
        f"p.category, p.hot_cells, p.cold_cells, p.step_classes, p.geom{parent_box} "
        "FROM emerging_cell_parents p JOIN hotspot_runs r ON r.id = p.run_id WHERE r.audience = 'shared'",
    ]


def upgrade() -> None:
    op.create_table(
        "emerging_cells",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("community_id", sa.BigInteger, nullable=False),
        sa.Column("incidents", sa.Integer, nullable=False),
        sa.Column("category", sa.SmallInteger, nullable=False),
        sa.Column("pattern", sa.Text, nullable=False),
        sa.Column("trend_tau", sa.Float),
        sa.Column("trend_p", sa.Float),
        sa.Column("hot_steps", sa.Integer, nullable=False),
        sa.Column("cold_steps", sa.Integer, nullable=False),
        sa.Column("last_gi_z", sa.Float),
        sa.Column("step_classes", sa.Text, nullable=False),
        sa.Column("step_counts", sa.Text, nullable=False),
        sa.Column("geom", geometry("POLYGON"), nullable=False),
        *bbox_columns(),
    )
    gist_index("ix_emerging_cells_geom", "emerging_cells", sqlite_leading=("run_id",))
    op.create_index("ix_emerging_cells_run_community", "emerging_cells", ["run_id", "community_id"])
    op.create_table(
        "emerging_cell_parents",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("resolution", sa.SmallInteger, primary_key=True),
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("incidents", sa.BigInteger, nullable=False),
        sa.Column("category", sa.SmallInteger, nullable=False),
        sa.Column("hot_cells", sa.Integer, nullable=False),
        sa.Column("cold_cells", sa.Integer, nullable=False),
        sa.Column("step_classes", sa.Text, nullable=False),
        sa.Column("published_incidents", sa.BigInteger),
        sa.Column("published_min_count", sa.Integer),
        sa.Column("geom", geometry("POLYGON"), nullable=False),
        *bbox_columns(),
    )
    gist_index("ix_emerging_cell_parents_geom", "emerging_cell_parents", sqlite_leading=("run_id", "resolution"))
    for view in _views(SQLITE_K if is_sqlite() else K):
        op.execute(view)
    # The restricted role reads the published views only (as for Gi* runs, migration 0009).
    # Classes and places only, never counts or statistics (the columns 0009 grants on Gi* cells).
    postgres(f"REVOKE ALL ON emerging_cells, emerging_cell_parents FROM {RESTRICTED}")
    postgres(f"GRANT SELECT (run_id, cell, community_id, category, pattern, step_classes, geom) ON emerging_cells "
             f"TO {RESTRICTED}")
    postgres(f"GRANT SELECT (run_id, resolution, cell, cells, category, hot_cells, cold_cells, step_classes, geom) "
             f"ON emerging_cell_parents TO {RESTRICTED}")
    postgres(f"GRANT SELECT ON published_emerging_cells, published_emerging_cell_parents TO {RESTRICTED}")
    # Shared runs' rows only, as for Gi* runs (migration 0007).
    for table in ("emerging_cells", "emerging_cell_parents"):
        postgres(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        postgres(f"CREATE POLICY shared_{table} ON {table} FOR SELECT TO {RESTRICTED} USING ({SHARED_RUN})")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS published_emerging_cell_parents")
    op.execute("DROP VIEW IF EXISTS published_emerging_cells")
    op.drop_table("emerging_cell_parents")
    op.drop_table("emerging_cells")
