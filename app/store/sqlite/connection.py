"""An embedded SQLite engine that behaves like the PostGIS one for the store's SQL.

Times are stored as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (sortable), read
back as aware datetimes; JSON and booleans come back as Python values; the few
SQL functions PostgreSQL has and the store uses (``now()``, ``h3_parent()``,
``local_month()``, a Unicode ``lower()``) are registered on every connection.
The adapters and converters are the ``sqlite3`` module's own, so they apply
to every SQLite connection in the process.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.types import DateTime

BUSY_TIMEOUT_S = 30


def to_text(value: datetime) -> str:
    """A datetime as the stored UTC text (naive values are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def from_text(raw: bytes | str) -> datetime:
    value = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _json_loads(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


sqlite3.register_adapter(datetime, to_text)
sqlite3.register_adapter(date, date.isoformat)
sqlite3.register_converter("DATETIME", from_text)
sqlite3.register_converter("BOOLEAN", lambda raw: raw not in (b"0", b""))
sqlite3.register_converter("JSON", _json_loads)


class StoredUTC(sqlite_dialect.DATETIME):
    """SQLAlchemy's SQLite DATETIME, agreeing with the converter above: values come back already
    parsed (aware, UTC), and aware values are stored in UTC rather than as their wall-clock time."""

    cache_ok = True

    def bind_processor(self, dialect):
        return lambda value: None if value is None else to_text(value)

    def result_processor(self, dialect, coltype):
        return lambda value: value if value is None or isinstance(value, datetime) else from_text(value)


_SIGN = 1 << 63


def h3_parent(cell: int | None, resolution: int | None) -> int | None:
    """The H3 parent from the bit layout, as the PostgreSQL function of migration 0001 does."""
    if cell is None or resolution is None:
        return None
    unsigned = cell & ((1 << 64) - 1)
    parent = (unsigned & ~(15 << 52)) | (resolution << 52) | ((1 << (3 * (15 - resolution))) - 1)
    return parent - (1 << 64) if parent & _SIGN else parent


def local_month(stored: str | None, zone: str) -> str | None:
    """'YYYY-MM' of a stored UTC time in the given zone (PostgreSQL: date_trunc + AT TIME ZONE)."""
    if stored is None:
        return None
    return from_text(stored).astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def shape_in_box(wkb: bytes | None, west: float, south: float, east: float, north: float) -> int:
    """1 when the shape (WKB) intersects the box, as PostGIS's ``ST_Intersects`` with an envelope."""
    if wkb is None:
        return 0
    return int(shapely.intersects(shapely.from_wkb(wkb), shapely.box(west, south, east, north)))


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _now() -> str:
    return to_text(datetime.now(UTC))


def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
    # SQLAlchemy emits BEGIN itself (below), so SAVEPOINTs and rollbacks behave as on PostgreSQL.
    dbapi_connection.isolation_level = None
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL",
                   f"busy_timeout = {BUSY_TIMEOUT_S * 1000}"):
        dbapi_connection.execute(f"PRAGMA {pragma}")
    dbapi_connection.create_function("now", 0, _now)
    # SQLite's own lower() folds ASCII only; sensitive-category matching must fold 'VIOLACIÓN' too.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.create_function("h3_parent", 2, h3_parent, deterministic=True)
    dbapi_connection.create_function("local_month", 2, local_month, deterministic=True)
    dbapi_connection.create_function("shape_in_box", 5, shape_in_box, deterministic=True)


READ_ONLY = "sqlite_read_only"
WAIT_S = "sqlite_wait_s"


def _begin(connection) -> None:
    """Writers take SQLite's one write lock when they begin, waiting for it up to ``WAIT_S`` seconds
    (default ``BUSY_TIMEOUT_S``), so a transaction that reads and then writes cannot fail because
    another wrote in between; read-only requests (marked ``READ_ONLY``) begin deferred and read
    alongside a writer (WAL)."""
    options = connection.get_execution_options()
    wait_ms = int(options.get(WAIT_S, BUSY_TIMEOUT_S) * 1000)
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
    connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_sqlite_engine(url: str) -> Engine:
    """The engine on an embedded database file (its folder is created if missing)."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, json_deserializer=_json_loads, pool_size=20, max_overflow=20,  # connections are cheap here
        connect_args={"detect_types": sqlite3.PARSE_DECLTYPES, "check_same_thread": False,
                      "timeout": BUSY_TIMEOUT_S},
    )
    engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: StoredUTC}
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _begin)
    return engine
