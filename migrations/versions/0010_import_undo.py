"""Undoing an import, and runs that know their data changed since.

An import can be undone (its rows removed, the record kept as 'undone', with
who and when); a finished run that counted rows of an undone import records
when and why its data changed, so its page can say so.

Incidents need no new key: rows without an id of their own keep their row
hash as before, and a row identical to an earlier row of the same file gets
its occurrence number appended ("sha1:…#2"), so files imported before this
revision are still recognised when imported again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.backend import drop_columns, is_sqlite

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _status_check(statuses: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table.
    with op.batch_alter_table("imports", recreate="always" if is_sqlite() else "auto") as batch:
        batch.drop_constraint(op.f("ck_imports_status_known"), type_="check")
        batch.create_check_constraint("status_known", f"status IN ({statuses})")


def upgrade() -> None:
    _status_check("'running','completed','failed','undone'")
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("undone_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("undone_by", sa.BigInteger))
    with op.batch_alter_table("hotspot_runs") as batch:
        batch.add_column(sa.Column("data_changed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("data_changed", sa.Text))


def downgrade() -> None:
    drop_columns("hotspot_runs", "data_changed", "data_changed_at")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("undone_by")
        batch.drop_column("undone_at")
    op.execute("UPDATE imports SET status = 'failed' WHERE status = 'undone'")
    _status_check("'running','completed','failed'")
