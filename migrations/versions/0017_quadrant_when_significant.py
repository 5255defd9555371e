"""Below analyst, a cell's local Moran quadrant is published only where its cluster label is significant.

The quadrant says on which side of the grid's mean a cell's own count lies (High-… or Low-…). For a
cell whose count is hidden (fewer than k) that bounds the count: in a sparse grid (mean under one)
"High" tells one or two incidents from none. Where the label is significant (High-High, Low-High,
Low-Low, High-Low) the label says as much, and that is the published finding; elsewhere the quadrant
is left empty, in the published view and in the restricted role's column grant on ``hotspot_cells``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from migrations.backend import is_sqlite, postgres

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"
K = "(SELECT greatest(min_count, 3) FROM privacy_rules WHERE id = 1)"
SQLITE_K = "(SELECT max(min_count, 3) FROM privacy_rules WHERE id = 1)"
SIGNIFICANT = "('High-High', 'Low-High', 'Low-Low', 'High-Low')"


def _published_cells(quadrant: str) -> str:
    k = SQLITE_K if is_sqlite() else K
    box = ", h.west, h.south, h.east, h.north" if is_sqlite() else ""
    barrier = "" if is_sqlite() else " WITH (security_barrier)"
    return (f"CREATE VIEW published_cells{barrier} AS "
            f"SELECT h.run_id, h.cell, h.community_id, CASE WHEN h.incidents >= {k} THEN h.incidents END AS incidents, "
            f"h.gi_bin, {quadrant} AS lisa_quadrant, h.lisa_label, h.geom{box} "
            "FROM hotspot_cells h JOIN hotspot_runs r ON r.id = h.run_id WHERE r.audience = 'shared'")


def upgrade() -> None:
    op.execute("DROP VIEW published_cells")
    op.execute(_published_cells(f"CASE WHEN h.lisa_label IN {SIGNIFICANT} THEN h.lisa_quadrant END"))
    postgres(f"REVOKE SELECT (lisa_quadrant) ON hotspot_cells FROM {RESTRICTED}")
    postgres(f"GRANT SELECT ON published_cells TO {RESTRICTED}")


def downgrade() -> None:
    op.execute("DROP VIEW published_cells")
    op.execute(_published_cells("h.lisa_quadrant"))
    postgres(f"GRANT SELECT (lisa_quadrant) ON hotspot_cells TO {RESTRICTED}")
    postgres(f"GRANT SELECT ON published_cells TO {RESTRICTED}")
