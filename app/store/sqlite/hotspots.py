"""Hotspot runs on SQLite: JSON through json_extract, cells as WKB rows with their box."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.store import kind_sql
from app.store.hotspots import cell_filters
from app.store.sql import in_list
from app.store.sqlite.common import geojson_text
from spatial.hotspots import CellResults
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named

INSERT_BATCH = 5000


def _covering(session: Session, names: list[str]) -> tuple[str, dict[str, Any]]:
    named, params = in_list(session, "value", names, "covering")
    return ("(json_array_length(parameters, '$.communities') = 0 OR EXISTS "
            f"(SELECT 1 FROM json_each(parameters, '$.communities') WHERE {named}))", params)


def community_shapes(session: Session, boundary_set_id: int, names: list[str] | None) -> list[dict[str, Any]]:
    clause, params = in_list(session, "c.name", names, "name") if names else ("1 = 1", {})
    rows = session.execute(
        text(
            "SELECT c.id, c.name, c.area_km2, c.geom AS wkb FROM communities c "
            f"WHERE c.boundary_set_id = :set_id AND {clause} ORDER BY c.id"
        ),
        {"set_id": boundary_set_id, **params},
    )
    return [{"id": r.id, "name": r.name, "area_km2": r.area_km2, "wkb": bytes(r.wkb)} for r in rows]


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


# How each declared field type is written (floats: NaN and infinity as NULL).
_CONVERT: dict[str, Callable[[Any], Any]] = {"float": _number, "text": str, "smallint": int, "integer": int,
                                             "bigint": int}


def store_cells(session: Session, run_id: int, cells: CellResults, polygons_wkb: list[bytes], *,
                kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> None:
    bounds = shapely.bounds(shapely.from_wkb(polygons_wkb)) if polygons_wkb else np.zeros((0, 4))
    fields = [(f.name, _CONVERT[f.type], np.asarray(getattr(cells, f.name))) for f in kind.fields]
    rows = [
        {"run_id": run_id, "cell": int(cells.cells[i]), "community_id": int(cells.community[i]),
         "incidents": int(cells.incidents[i]),
         "geom": bytes(polygons_wkb[i]), "west": float(bounds[i, 0]), "south": float(bounds[i, 1]),
         "east": float(bounds[i, 2]), "north": float(bounds[i, 3]),
         **{name: convert(values[i]) for name, convert, values in fields}}
        for i in range(len(cells))
    ]
    columns = (*kind_sql.cell_columns(kind), "west", "south", "east", "north")
    sql = text(f"INSERT INTO {kind.cell_table} ({', '.join(columns)}) "
               f"VALUES ({', '.join(':' + c for c in columns)})")
    for first in range(0, len(rows), INSERT_BATCH):
        session.execute(sql, rows[first:first + INSERT_BATCH])


def cell_page(session: Session, run_id: int, *, after_cell: int | None, limit: int,
              community_id: int | None = None, classes: list[int] | None = None,
              within: list[int] | None = None, published: bool = False,
              kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> list[dict[str, Any]]:
    select, table = kind_sql.cell_select(kind, published)  # the hexagon as WKB, made GeoJSON in Python
    extra, params = cell_filters(session, kind, community_id, classes or [], within)
    if after_cell is not None:
        extra += " AND h.cell > :after"
        params["after"] = after_cell
    rows = session.execute(
        text(
            f"{select}, h.geom FROM {table} h JOIN communities c ON c.id = h.community_id "
            f"WHERE h.run_id = :run_id{extra} ORDER BY h.cell LIMIT :limit"
        ),
        {"run_id": run_id, "limit": limit, **params},
    )
    pages = []
    for row in rows:
        cell = dict(row._mapping)
        cell["geometry"] = geojson_text(cell.pop("geom"), 6)
        pages.append(cell)
    return pages


def iter_cells(session: Session, run_id: int, community_id: int | None = None,
               classes: list[int] | None = None, within: list[int] | None = None,
               published: bool = False, kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> Iterator[dict[str, Any]]:
    select, table = kind_sql.cell_select(kind, published)
    extra, params = cell_filters(session, kind, community_id, classes or [], within)
    result = session.execute(
        text(
            f"{select}, h.geom FROM {table} h JOIN communities c ON c.id = h.community_id "
            f"WHERE h.run_id = :run_id{extra} ORDER BY h.cell"
        ),
        {"run_id": run_id, **params},
    )
    for row in result:
        cell = dict(row._mapping)
        centre = shapely.centroid(shapely.from_wkb(cell.pop("geom")))
        cell["centre_lat"], cell["centre_lon"] = centre.y, centre.x
        yield cell
