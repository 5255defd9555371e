"""Let the restricted role read and fill ``hotspot_cell_parents``.

Low-zoom hotspot tiles draw a run's H3 parents, and the first tile request of
a finished run fills them in (app/store/tiles.py). Below-analyst requests run
as ``hotspots_restricted``, so that role needs SELECT and INSERT on the table.
The table has no sequence (its key is run, resolution, cell). Parents hold
only what ``hotspot_cells`` holds already, summed, so this opens no new data.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from migrations.backend import postgres

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"


def upgrade() -> None:
    postgres(f"GRANT SELECT, INSERT ON hotspot_cell_parents TO {RESTRICTED}")


def downgrade() -> None:
    postgres(f"REVOKE SELECT, INSERT ON hotspot_cell_parents FROM {RESTRICTED}")
