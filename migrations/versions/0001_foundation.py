"""Foundation: users and tokens, imports, boundary sets and communities, incidents.

Revision ID: 0001
Revises:
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
    is_sqlite,
    json_type,
    now_default,
    postgres,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# H3 parent from the bit layout (resolution in bits 52-55; digits of finer
# resolutions set to 7), because PostgreSQL here has no h3 extension.
# Tested against h3-py's cell_to_parent in tests/test_h3_sql.py.
H3_PARENT_SQL = """
CREATE FUNCTION h3_parent(cell bigint, res integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT (cell & ~(15::bigint << 52)) | (res::bigint << 52) | ((1::bigint << (3 * (15 - res))) - 1)
$$
"""


def upgrade() -> None:
    postgres("CREATE EXTENSION IF NOT EXISTS postgis")
    postgres(H3_PARENT_SQL)  # on SQLite the service registers h3_parent() on each connection

    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=now_default()),
        sa.Column("disabled_at", TZ),
        sa.CheckConstraint("role IN ('viewer','analyst','gis','admin')", name="role_known"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text),
        sa.Column("created_at", TZ, nullable=False, server_default=now_default()),
        sa.Column("last_used_at", TZ),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "imports",
        sa.Column("id", ID, primary_key=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("started_at", TZ, nullable=False, server_default=now_default()),
        sa.Column("finished_at", TZ),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("report", json_type()),
        sa.Column("error", sa.Text),
        sa.CheckConstraint("status IN ('running','completed','failed')", name="status_known"),
    )
    op.create_table(
        "boundary_sets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("source_crs", sa.Text),
        sa.Column("attribution", sa.Text),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", TZ, nullable=False, server_default=now_default()),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("activated_at", TZ),
        sa.Column("report", json_type()),
    )
    op.create_index(
        "uq_boundary_sets_one_active", "boundary_sets", ["is_active"], unique=True,
        postgresql_where=sa.text("is_active"), sqlite_where=sa.text("is_active"),
    )
    op.create_table(
        "communities",
        sa.Column("id", ID, primary_key=True),
        sa.Column("boundary_set_id", sa.BigInteger, sa.ForeignKey("boundary_sets.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("population", sa.Float),
        sa.Column("area_km2", sa.Float, nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
        *bbox_columns(),
    )
    gist_index("ix_communities_geom", "communities")
    op.create_table(
        "incidents",
        sa.Column("id", ID, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("reported_at", TZ),
        sa.Column("category", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("lon", sa.Float(precision=53), nullable=False),
        sa.Column("lat", sa.Float(precision=53), nullable=False),
        # Derived in the database, so COPY sends two numbers rather than a geometry (on SQLite the
        # point is its lon/lat, indexed below).
        *([] if is_sqlite() else [
            sa.Column("geom", geometry("POINT"),
                      sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True), nullable=False)]),
        sa.Column("h3_cell", sa.BigInteger, nullable=False),
        # No foreign keys on this hot table: their per-row triggers cost about a
        # third of COPY time (bench/ingest.py). Communities and imports are never
        # deleted while incidents point at them (boundary sets are kept).
        sa.Column("community_id", sa.BigInteger),
        sa.Column("attributes", json_type()),
        sa.Column("import_id", sa.BigInteger),
        sa.UniqueConstraint("source", "external_id", name="uq_incidents_source_external_id"),
    )
    if is_sqlite():
        op.create_index("ix_incidents_lat_lon", "incidents", ["lat", "lon"])
    else:
        op.create_index("ix_incidents_geom", "incidents", ["geom"], postgresql_using="gist")
    # Counting per H3 cell over a time window is an index-only scan of this one.
    op.create_index("ix_incidents_occurred_at", "incidents", ["occurred_at"],
                    postgresql_include=["h3_cell", "category", "source"])
    op.create_index("ix_incidents_community_id", "incidents", ["community_id"])


def downgrade() -> None:
    op.drop_table("incidents")
    op.drop_table("communities")
    op.drop_index("uq_boundary_sets_one_active", table_name="boundary_sets")
    op.drop_table("boundary_sets")
    op.drop_table("imports")
    op.drop_table("api_tokens")
    op.drop_table("users")
    postgres("DROP FUNCTION IF EXISTS h3_parent(bigint, integer)")
