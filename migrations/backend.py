"""What differs between the two stores in the migrations: PostGIS, or embedded SQLite.

The same revisions build both. On SQLite (no spatial extension) a geometry is
its WKB in a BLOB with its bounding box in four columns (west, south, east,
north) for indexed box searches, JSON is text, and everything that only
PostgreSQL has (PostGIS functions, the restricted role, row-level security,
SECURITY DEFINER functions) is left out: the embedded store serves one
machine, and its privacy rules live in the service (app/store/sqlite/).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import INET, JSONB


# A BIGINT primary key is not SQLite's rowid and would not number itself.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def geometry(kind: str) -> sa.types.TypeEngine:
    return sa.LargeBinary() if is_sqlite() else Geometry(kind, srid=4326, spatial_index=False)


def now_default():
    """The server default of a time column: now(); on SQLite the stored UTC text with microseconds,
    the same shape the service writes, so times compare correctly as text."""
    if is_sqlite():
        return sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')")
    return sa.func.now()


def json_type() -> sa.types.TypeEngine:
    return sa.JSON() if is_sqlite() else JSONB()


def inet_type() -> sa.types.TypeEngine:
    return sa.Text() if is_sqlite() else INET()


def bbox_columns() -> list[sa.Column]:
    """A geometry's bounding box, on SQLite only (PostGIS has GiST indexes instead)."""
    if not is_sqlite():
        return []
    return [sa.Column(side, sa.Float, nullable=False) for side in ("west", "south", "east", "north")]


def postgres(sql: str) -> None:
    """Run PostgreSQL-only SQL (functions, roles, grants, policies); nothing on SQLite."""
    if not is_sqlite():
        op.execute(sql)


def gist_index(name: str, table: str, *, sqlite_leading: tuple[str, ...] = ()) -> None:
    """The spatial index: GiST on PostGIS; on SQLite a B-tree on the box after ``sqlite_leading``."""
    if is_sqlite():
        op.create_index(name.replace("_geom", "_bbox"), table, [*sqlite_leading, "south", "north", "west", "east"])
    else:
        op.create_index(name, table, ["geom"], postgresql_using="gist")


def drop_columns(table: str, *columns: str) -> None:
    """Drop columns. On SQLite with its own DROP COLUMN (3.35+), not batch mode: batch mode copies the
    table, drops it and renames the copy, which SQLite refuses while a view (published_cells) names it."""
    for column in columns:
        if is_sqlite():
            op.execute(f'ALTER TABLE {table} DROP COLUMN "{column}"')
        else:
            op.drop_column(table, column)
