"""Row-level security: the restricted role sees only shared runs and their cells.

The service's own (owner) role is not subject to these policies; requests
from below-analyst users run as ``hotspots_restricted``, which now cannot read
a police run or its cells even if a bug upstream asked for them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from migrations.backend import postgres

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"
SHARED_RUN = "EXISTS (SELECT 1 FROM hotspot_runs r WHERE r.id = run_id AND r.audience = 'shared')"


def upgrade() -> None:
    postgres("ALTER TABLE hotspot_runs ENABLE ROW LEVEL SECURITY")
    postgres(f"CREATE POLICY shared_runs ON hotspot_runs FOR SELECT TO {RESTRICTED} USING (audience = 'shared')")
    postgres("ALTER TABLE hotspot_cells ENABLE ROW LEVEL SECURITY")
    postgres(f"CREATE POLICY shared_cells ON hotspot_cells FOR SELECT TO {RESTRICTED} USING ({SHARED_RUN})")
    postgres("ALTER TABLE hotspot_cell_parents ENABLE ROW LEVEL SECURITY")
    postgres(f"CREATE POLICY shared_parents_read ON hotspot_cell_parents FOR SELECT TO {RESTRICTED} "
             f"USING ({SHARED_RUN})")
    postgres(f"CREATE POLICY shared_parents_fill ON hotspot_cell_parents FOR INSERT TO {RESTRICTED} "
             f"WITH CHECK ({SHARED_RUN})")


def downgrade() -> None:
    postgres("DROP POLICY IF EXISTS shared_parents_fill ON hotspot_cell_parents")
    postgres("DROP POLICY IF EXISTS shared_parents_read ON hotspot_cell_parents")
    postgres("ALTER TABLE hotspot_cell_parents DISABLE ROW LEVEL SECURITY")
    postgres("DROP POLICY IF EXISTS shared_cells ON hotspot_cells")
    postgres("ALTER TABLE hotspot_cells DISABLE ROW LEVEL SECURITY")
    postgres("DROP POLICY IF EXISTS shared_runs ON hotspot_runs")
    postgres("ALTER TABLE hotspot_runs DISABLE ROW LEVEL SECURITY")
