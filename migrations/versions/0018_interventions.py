"""Interventions: programmes (a patrol plan, a youth outreach) whose effect on crime is evaluated.

- ``interventions``: a name, the partner running it (free text), the target area (community
  ids, or a polygon as a GeoJSON geometry), the H3 resolution and the rings of cells that
  make its buffer, the comparison communities (none: the rest of the active communities), the
  dates it ran, whether it is shared with partners, who recorded it and when; and the last
  evaluation kept: the police one (exact counts) and the published one (counted without
  sensitive categories, small counts suppressed), which is all the restricted role may read.
- ``communities``: the names of the communities the target lies in, so a partner limited to
  some communities sees only interventions in its own (the service checks the scope).

The restricted role (partners' and viewers' requests) reads shared interventions only (row-level
security) and never the police evaluation nor who recorded it (column grants).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import ID, json_type, now_default, postgres

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"
PUBLISHED_COLUMNS = ("id, name, partner, target_communities, target_geometry, communities, resolution, buffer_rings, "
                     "comparison_communities, starts_on, ends_on, shared, created_at, published_evaluation, "
                     "evaluated_at")


def upgrade() -> None:
    op.create_table(
        "interventions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("partner", sa.Text),
        sa.Column("target_communities", json_type()),
        sa.Column("target_geometry", json_type()),
        sa.Column("communities", json_type(), nullable=False),
        sa.Column("resolution", sa.SmallInteger, nullable=False),
        sa.Column("buffer_rings", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("comparison_communities", json_type()),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
        sa.Column("evaluation", json_type()),
        sa.Column("published_evaluation", json_type()),
        sa.Column("evaluated_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        sa.CheckConstraint("resolution BETWEEN 7 AND 11", name="resolution_useful"),
        sa.CheckConstraint("buffer_rings BETWEEN 0 AND 3", name="buffer_rings_small"),
        sa.CheckConstraint("(target_communities IS NULL) <> (target_geometry IS NULL)", name="one_target"),
    )
    postgres("ALTER TABLE interventions ENABLE ROW LEVEL SECURITY")
    postgres(f"CREATE POLICY shared_interventions ON interventions FOR SELECT TO {RESTRICTED} USING (shared)")
    postgres(f"GRANT SELECT ({PUBLISHED_COLUMNS}) ON interventions TO {RESTRICTED}")


def downgrade() -> None:
    postgres(f"REVOKE ALL ON interventions FROM {RESTRICTED}")
    postgres("DROP POLICY IF EXISTS shared_interventions ON interventions")
    op.drop_table("interventions")
