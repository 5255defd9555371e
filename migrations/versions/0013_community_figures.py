"""Figures per community: populations and social-factor indicators, versioned like boundary sets.

- ``community_figures``: one uploaded figure (a population, or an indicator such as
  unemployment) for one boundary set, with its unit, year and source. A new upload of
  the same figure (same set, kind and name) is a new version; the latest is the active
  one and the older ones are kept.
- ``community_figure_values``: the figure's value for each community it gives one for.

Populations and indicators are published statistics, not police data: the restricted
role (partners' and viewers' requests) may read both, to work out rates from the
published counts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import ID, now_default, postgres

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"


def upgrade() -> None:
    op.create_table(
        "community_figures",
        sa.Column("id", ID, primary_key=True),
        sa.Column("boundary_set_id", sa.BigInteger, sa.ForeignKey("boundary_sets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("year", sa.Integer),
        sa.Column("source", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("uploaded_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
        sa.CheckConstraint("kind IN ('population', 'indicator')", name="kind_known"),
        sa.UniqueConstraint("boundary_set_id", "kind", "name", "version", name="uq_community_figures_version"),
    )
    # At most one active version of a figure.
    op.create_index("uq_community_figures_one_active", "community_figures", ["boundary_set_id", "kind", "name"],
                    unique=True, postgresql_where=sa.text("active"), sqlite_where=sa.text("active"))
    op.create_table(
        "community_figure_values",
        sa.Column("figure_id", sa.BigInteger, sa.ForeignKey("community_figures.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("community_id", sa.BigInteger, sa.ForeignKey("communities.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_community_figure_values_community", "community_figure_values", ["community_id"])
    postgres(f"GRANT SELECT ON community_figures, community_figure_values TO {RESTRICTED}")


def downgrade() -> None:
    postgres(f"REVOKE ALL ON community_figures, community_figure_values FROM {RESTRICTED}")
    op.drop_index("ix_community_figure_values_community", "community_figure_values")
    op.drop_table("community_figure_values")
    op.drop_index("uq_community_figures_one_active", "community_figures")
    op.drop_table("community_figures")
