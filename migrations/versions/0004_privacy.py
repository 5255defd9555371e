"""Privacy tiers: partner role, community scopes, run audiences, and a restricted database role.

The restricted role is the second wall: requests from below-analyst users run
as ``hotspots_restricted``, which cannot read the incidents table at all, only
the per-community aggregate function (which leaves out sensitive categories
and suppresses small counts itself).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import is_sqlite, postgres

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RESTRICTED = "hotspots_restricted"

CREATE_ROLE = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RESTRICTED}') THEN
    CREATE ROLE {RESTRICTED} NOLOGIN;
  END IF;
END $$;
GRANT {RESTRICTED} TO CURRENT_USER;
"""

# Incidents per community of a set, without categories matching the given LIKE patterns
# (lower case, e.g. '%sex%'), with counts under k
# (and the last `hold_back_days`) left out; callable by the restricted role, which cannot
# read incidents itself.
AGGREGATE_FUNCTION = """
CREATE FUNCTION community_incident_totals(set_id bigint, excluded text[], k integer, hold_back_days integer)
RETURNS TABLE (community_id bigint, incidents bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id, CASE WHEN count(i.id) >= greatest(k, 3) THEN count(i.id) END
  FROM communities c
  LEFT JOIN incidents i ON i.community_id = c.id
       AND NOT lower(coalesce(i.category, '')) LIKE ANY(excluded)
       AND i.occurred_at < now() - make_interval(days => greatest(hold_back_days, 0))
  WHERE c.boundary_set_id = set_id
  GROUP BY c.id
$$;
CREATE FUNCTION community_incident_breakdown(community bigint, excluded text[], k integer, hold_back_days integer,
                                             zone text)
RETURNS TABLE (kind text, label text, incidents bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH kept AS (
    SELECT category, occurred_at FROM incidents
    WHERE community_id = community AND NOT lower(coalesce(category, '')) LIKE ANY(excluded)
      AND occurred_at < now() - make_interval(days => greatest(hold_back_days, 0))
  ), groups AS (
    SELECT 'category' AS kind, coalesce(category, '(none)') AS label, count(*) AS n FROM kept GROUP BY 2
    UNION ALL
    SELECT 'month', to_char(date_trunc('month', occurred_at AT TIME ZONE zone), 'YYYY-MM'), count(*)
    FROM kept GROUP BY 2
  ), ranked AS (
    SELECT kind, label, n,
           count(*) FILTER (WHERE n < greatest(k, 3)) OVER (PARTITION BY kind) AS small,
           row_number() OVER (PARTITION BY kind, n >= greatest(k, 3) ORDER BY n, label) AS smallest
    FROM groups
  )
  -- Groups under k are left out; when only one is, the smallest shown group goes too, so the
  -- community total minus the groups shown never reveals a single small count.
  SELECT kind, label, n FROM ranked
  WHERE n >= greatest(k, 3) AND NOT (small = 1 AND smallest = 1)
$$;"""

GRANTS = f"""
REVOKE ALL ON incidents, imports, api_tokens, users, audit_events FROM {RESTRICTED};
GRANT SELECT ON boundary_sets, communities, hotspot_runs, hotspot_cells, user_scopes TO {RESTRICTED};
GRANT INSERT ON audit_events TO {RESTRICTED};
GRANT USAGE ON SEQUENCE audit_events_id_seq TO {RESTRICTED};
GRANT EXECUTE ON FUNCTION community_incident_totals(bigint, text[], integer, integer),
                          community_incident_breakdown(bigint, text[], integer, integer, text),
                          h3_parent(bigint, integer) TO {RESTRICTED};
"""


def _role_check(roles: str) -> None:
    if is_sqlite():  # SQLite cannot alter a constraint: batch mode copies the table
        with op.batch_alter_table("users", recreate="always") as batch:
            batch.drop_constraint(op.f("ck_users_role_known"), type_="check")
            batch.create_check_constraint("role_known", f"role IN ({roles})")
        return
    op.drop_constraint(op.f("ck_users_role_known"), "users", type_="check")
    op.create_check_constraint("role_known", "users", f"role IN ({roles})")


def upgrade() -> None:
    _role_check("'partner','viewer','analyst','gis','admin'")
    op.create_table(
        "user_scopes",
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("community_name", sa.Text, primary_key=True),
    )
    with op.batch_alter_table("hotspot_runs") as batch:
        batch.add_column(sa.Column("audience", sa.Text, nullable=False, server_default="police"))
        batch.create_check_constraint("audience_known", "audience IN ('police','shared')")
    postgres(CREATE_ROLE)
    postgres(AGGREGATE_FUNCTION)  # on SQLite: app/store/sqlite/communities.py
    postgres(GRANTS)


def downgrade() -> None:
    postgres(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {RESTRICTED}")
    postgres(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {RESTRICTED}")
    postgres("DROP FUNCTION IF EXISTS community_incident_breakdown(bigint, text[], integer, integer, text)")
    postgres("DROP FUNCTION IF EXISTS community_incident_totals(bigint, text[], integer, integer)")
    postgres(f"REVOKE EXECUTE ON FUNCTION h3_parent(bigint, integer) FROM {RESTRICTED}")
    with op.batch_alter_table("hotspot_runs", recreate="always" if is_sqlite() else "auto") as batch:
        batch.drop_constraint(op.f("ck_hotspot_runs_audience_known"), type_="check")
        batch.drop_column("audience")
    op.drop_table("user_scopes")
    _role_check("'viewer','analyst','gis','admin'")
