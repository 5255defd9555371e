"""Copying every table from the embedded store to an empty PostGIS database (moving to production).

Reads each table in key order from the SQLite session and writes it with one
``COPY`` per table into the PostgreSQL session's single transaction: if
anything fails, the target is left empty. Geometries go as EWKB with their
SRID; the generated point of an incident is left to PostgreSQL; identities
continue after the copied ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

import models
from app.store.sql import driver_connection

# Parents before children (foreign keys); each with the column that orders it.
TABLES = (
    ("users", "id"), ("api_tokens", "id"), ("user_scopes", "user_id"), ("sensitive_terms", "term"),
    ("incident_categories", "name"), ("imports", "id"),
    ("boundary_sets", "id"), ("communities", "id"), ("community_figures", "id"),
    ("community_figure_values", "figure_id, community_id"), ("incidents", "id"), ("hotspot_runs", "id"),
    ("hotspot_cells", "run_id, cell"), ("hotspot_cell_parents", "run_id, resolution, cell"),
    ("emerging_cells", "run_id, cell"), ("emerging_cell_parents", "run_id, resolution, cell"), ("interventions", "id"),
    ("audit_events", "id"), ("brief_history", "id"),
)
GEOMETRY = {"communities", "hotspot_cells", "hotspot_cell_parents", "emerging_cells", "emerging_cell_parents"}
BATCH = 20_000


def copied_columns(table: str) -> list[str]:
    """The table's columns as the models declare them, less the incidents' generated point."""
    columns = models.Base.metadata.tables[table].columns
    return [c.name for c in columns if not (table == "incidents" and c.name == "geom")]


def target_is_empty(session: Session) -> bool:
    return all(session.execute(text(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")).scalar_one()
               for table, _ in TABLES)


def read_rows(session: Session, table: str, order: str) -> Iterator[tuple]:
    """Every row of ``table`` (a name from TABLES) from the embedded store, streamed."""
    columns = copied_columns(table)
    result = session.execute(text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"),
                             execution_options={"stream_results": True, "yield_per": BATCH})
    for row in result:
        yield tuple(_for_copy(table, name, value) for name, value in zip(columns, row, strict=True))


def _for_copy(table: str, column: str, value: Any) -> Any:
    if value is None:
        return None
    if column == "geom" and table in GEOMETRY:
        return shapely.to_wkb(shapely.set_srid(shapely.from_wkb(bytes(value)), 4326), hex=True, include_srid=True)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def write_rows(session: Session, table: str, rows: Iterator[tuple]) -> int:
    """COPY ``rows`` into ``table`` in the session's transaction; returns how many."""
    sql = f"COPY {table} ({', '.join(copied_columns(table))}) FROM STDIN"
    driver = driver_connection(session)
    written = 0
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def continue_identities(session: Session) -> None:
    """Let new rows take ids after the copied ones."""
    for table, order in TABLES:
        if order == "id":
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"))
