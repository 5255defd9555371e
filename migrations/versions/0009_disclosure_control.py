"""Disclosure control: privacy rules and category classes in owner-only tables, published views.

- ``privacy_rules`` (one row: k and the hold-back days) and ``incident_categories`` (each
  distinct category, classed sensitive or not once, in Python: spatial/sensitive.py) and
  ``sensitive_terms`` (the admin's own terms, added to the shipped ones) are written only
  by the service's own role. The aggregate functions the restricted role may call read
  them themselves: they no longer take k or an exclusion list from the caller.
- ``published_cells`` and ``published_cell_parents``: what below-analyst outputs are
  drawn from. Shared runs only, counts under k NULL, no continuous statistic (z, p, I),
  and a parent's count is the sum of its *published* children, so a parent minus the
  children shown is always 0 and tells nothing about a hidden child.
- The restricted role loses SELECT on the exact columns of ``hotspot_cells`` and
  ``hotspot_cell_parents`` (and INSERT on the parents): it reads the views.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from migrations.backend import is_sqlite, now_default, postgres
from spatial.sensitive import SHIPPED_TERMS, classify

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"
# The words HOTSPOTS_SENSITIVE_CATEGORIES held by default before this revision; kept as terms.
OLD_DEFAULT_WORDS = ("sex", "rape", "domestic", "child", "indecent", "incest", "trafficking", "abuse")

K = "(SELECT greatest(min_count, 3) FROM privacy_rules WHERE id = 1)"
SQLITE_K = "(SELECT max(min_count, 3) FROM privacy_rules WHERE id = 1)"
# Only categories classed and found not sensitive are counted: a category nobody has
# classed yet (written around the import service) stays out until it is (fail safe).
KEPT = ("coalesce({col}, '') IN (SELECT name FROM incident_categories WHERE NOT sensitive)")

# Community figures below analyst are sums of published "atoms": the incidents of one category in one
# calendar month (local time, ``privacy_rules.zone``), each shown only at k or more, and only months
# that ended at least the hold-back ago. A total or a group is the sum of its atoms shown, so neither
# the total minus the groups shown nor one day's (or month's) figures minus the next's reveals a count
# under k (only an atom already shown can grow, by late reports).
ATOMS = f"""
  SELECT i.community_id, coalesce(i.category, '(none)') AS category,
         to_char(date_trunc('month', i.occurred_at AT TIME ZONE r.zone), 'YYYY-MM') AS month, count(*) AS n
  FROM incidents i CROSS JOIN privacy_rules r
  WHERE r.id = 1 AND {{where}} AND {KEPT.format(col='i.category')}
    AND i.occurred_at < (date_trunc('month', (now() - make_interval(days => r.hold_back_days)) AT TIME ZONE r.zone)
                         AT TIME ZONE r.zone)
  GROUP BY 1, 2, 3 HAVING count(*) >= {K}"""

FUNCTIONS = f"""
CREATE FUNCTION community_incident_totals(set_id bigint)
RETURNS TABLE (community_id bigint, incidents bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH atoms AS ({ATOMS.format(where='i.community_id IN (SELECT id FROM communities WHERE boundary_set_id = set_id)')})
  SELECT c.id, CAST(sum(a.n) AS bigint)
  FROM communities c LEFT JOIN atoms a ON a.community_id = c.id
  WHERE c.boundary_set_id = set_id
  GROUP BY c.id
$$;
CREATE FUNCTION community_incident_breakdown(community bigint, zone text)
RETURNS TABLE (kind text, label text, incidents bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  -- ``zone`` is kept for the signature; months are the rules' zone, as in the totals.
  WITH atoms AS ({ATOMS.format(where='i.community_id = community')})
  SELECT 'category', category, CAST(sum(n) AS bigint) FROM atoms GROUP BY 2
  UNION ALL
  SELECT 'month', month, CAST(sum(n) AS bigint) FROM atoms GROUP BY 2
$$;"""


def _views(k: str) -> list[str]:
    box = ", h.west, h.south, h.east, h.north" if is_sqlite() else ""
    parent_box = ", p.west, p.south, p.east, p.north" if is_sqlite() else ""
    barrier = "" if is_sqlite() else " WITH (security_barrier)"
    return [
        f"CREATE VIEW published_cells{barrier} AS "
        f"SELECT h.run_id, h.cell, h.community_id, CASE WHEN h.incidents >= {k} THEN h.incidents END AS incidents, "
        f"h.gi_bin, h.lisa_quadrant, h.lisa_label, h.geom{box} "
        "FROM hotspot_cells h JOIN hotspot_runs r ON r.id = h.run_id WHERE r.audience = 'shared'",
        # published_min_count: the k the published sum was made with; under a larger k
        # today the sum could hold children now hidden, so it is not shown.
        f"CREATE VIEW published_cell_parents{barrier} AS "
        "SELECT p.run_id, p.resolution, p.cell, p.cells, "
        # 0: no child shown, so nothing to publish (hidden, as the children are).
        f"CASE WHEN p.published_min_count >= {k} THEN nullif(p.published_incidents, 0) END AS incidents, "
        f"p.gi_bin, p.hot_cells, p.cold_cells, p.geom{parent_box} "
        "FROM hotspot_cell_parents p JOIN hotspot_runs r ON r.id = p.run_id WHERE r.audience = 'shared'",
    ]


# Parents filled before this revision: their published sums from the children, with k as it is now.
BACKFILL_PARENTS = f"""
UPDATE hotspot_cell_parents p SET published_min_count = {K},
  published_incidents = (SELECT coalesce(sum(h.incidents) FILTER (WHERE h.incidents >= {K}), 0)
                         FROM hotspot_cells h WHERE h.run_id = p.run_id AND h3_parent(h.cell, p.resolution) = p.cell)
"""

GRANTS = f"""
REVOKE ALL ON privacy_rules, incident_categories, sensitive_terms FROM {RESTRICTED};
REVOKE SELECT, INSERT ON hotspot_cells, hotspot_cell_parents FROM {RESTRICTED};
GRANT SELECT (run_id, cell, community_id, gi_bin, lisa_quadrant, lisa_label, geom) ON hotspot_cells TO {RESTRICTED};
GRANT SELECT (run_id, resolution, cell, cells, gi_bin, hot_cells, cold_cells, geom)
  ON hotspot_cell_parents TO {RESTRICTED};
GRANT SELECT ON published_cells, published_cell_parents TO {RESTRICTED};
GRANT EXECUTE ON FUNCTION community_incident_totals(bigint), community_incident_breakdown(bigint, text)
  TO {RESTRICTED};
"""


def upgrade() -> None:
    op.create_table(
        "privacy_rules",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("min_count", sa.Integer, nullable=False),
        sa.Column("hold_back_days", sa.Integer, nullable=False),
        sa.Column("zone", sa.Text, nullable=False, server_default="UTC"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
        sa.CheckConstraint("id = 1", name="one_row"),
        sa.CheckConstraint("min_count >= 3", name="k_at_least_3"),
        sa.CheckConstraint("hold_back_days >= 0", name="hold_back_not_negative"),
    )
    op.execute("INSERT INTO privacy_rules (id, min_count, hold_back_days, zone) VALUES (1, 5, 0, 'UTC')")
    op.create_table(
        "sensitive_terms",
        sa.Column("term", sa.Text, primary_key=True),
        sa.Column("added_by", sa.BigInteger, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
    )
    op.create_table(
        "incident_categories",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("sensitive", sa.Boolean, nullable=False),
        sa.Column("matched_term", sa.Text),
        sa.Column("near_miss", sa.Text),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
    )
    bind = op.get_bind()
    terms = (*SHIPPED_TERMS, *OLD_DEFAULT_WORDS)
    names = bind.execute(sa.text("SELECT DISTINCT coalesce(category, '') FROM incidents")).scalars().all()
    rows = [{"name": c.category, "sensitive": c.sensitive, "matched": c.matched_term, "near": c.near_miss}
            for c in (classify(n, terms) for n in names)]
    if rows:
        bind.execute(sa.text("INSERT INTO incident_categories (name, sensitive, matched_term, near_miss) "
                             "VALUES (:name, :sensitive, :matched, :near)"), rows)
    with op.batch_alter_table("hotspot_cell_parents") as batch:
        batch.add_column(sa.Column("published_incidents", sa.BigInteger))
        batch.add_column(sa.Column("published_min_count", sa.Integer))
    postgres(BACKFILL_PARENTS)  # SQLite: parents are filled again by the next tile request (none stored yet)
    for view in _views(SQLITE_K if is_sqlite() else K):
        op.execute(view)
    postgres("DROP FUNCTION community_incident_breakdown(bigint, text[], integer, integer, text)")
    postgres("DROP FUNCTION community_incident_totals(bigint, text[], integer, integer)")
    postgres(FUNCTIONS)
    postgres(GRANTS)


def downgrade() -> None:
    previous = importlib.import_module("migrations.versions.0004_privacy")
    postgres("DROP FUNCTION IF EXISTS community_incident_breakdown(bigint, text)")
    postgres("DROP FUNCTION IF EXISTS community_incident_totals(bigint)")
    postgres(previous.AGGREGATE_FUNCTION)
    postgres(previous.GRANTS)
    postgres(f"REVOKE ALL ON hotspot_cells, hotspot_cell_parents FROM {RESTRICTED}")
    postgres(f"GRANT SELECT ON hotspot_cells TO {RESTRICTED}")
    postgres(f"GRANT SELECT, INSERT ON hotspot_cell_parents TO {RESTRICTED}")
    op.execute("DROP VIEW IF EXISTS published_cell_parents")
    op.execute("DROP VIEW IF EXISTS published_cells")
    with op.batch_alter_table("hotspot_cell_parents") as batch:
        batch.drop_column("published_min_count")
        batch.drop_column("published_incidents")
    op.drop_table("incident_categories")
    op.drop_table("sensitive_terms")
    op.drop_table("privacy_rules")
