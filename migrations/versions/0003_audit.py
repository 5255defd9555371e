"""Audit log: who did what, when, from where, with what outcome. Append-only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import ID, inet_type, is_sqlite, json_type, now_default

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Entries can be added, never changed or removed (not even by the service's own role).
APPEND_ONLY = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
"""
SQLITE_APPEND_ONLY = [
    f"CREATE TRIGGER audit_events_no_{verb} BEFORE {verb} ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=now_default()),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("user_name", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("client_ip", inet_type()),
        sa.Column("details", json_type()),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    for statement in SQLITE_APPEND_ONLY if is_sqlite() else [APPEND_ONLY]:
        op.execute(statement)


def downgrade() -> None:
    if not is_sqlite():
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_table("audit_events")
