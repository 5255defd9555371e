"""Hotspot runs on SQLite: JSON through json_extract, cells as WKB rows with their box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from app.store import kind_sql
from app.store.hotspots import Runs
from app.store.sqlite.common import geojson_text
from spatial.kinds.base import CellColumns
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named

INSERT_BATCH = 5000


class SQLiteRuns(Runs):
    """JSON through json_each, batched INSERTs of WKB rows with their box."""

    CELL_GEOMETRY = "h.geom"  # WKB: made GeoJSON and centres in Python
    CELL_CENTRE = "h.geom"

    def _with_geometry(self, cell: dict[str, Any]) -> dict[str, Any]:
        cell["geometry"] = geojson_text(cell.pop("geom"), 6)
        return cell

    def _with_centre(self, cell: dict[str, Any]) -> dict[str, Any]:
        centre = shapely.centroid(shapely.from_wkb(cell.pop("geom")))
        cell["centre_lat"], cell["centre_lon"] = centre.y, centre.x
        return cell

    def _covering(self, names: list[str]) -> tuple[str, dict[str, Any]]:
        named, params = self.sql.in_list("value", names, "covering")
        return ("(json_array_length(parameters, '$.communities') = 0 OR EXISTS "
                f"(SELECT 1 FROM json_each(parameters, '$.communities') WHERE {named}))", params)

    def store_cells(self, run_id: int, cells: CellColumns, polygons_wkb: list[bytes], *,
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
            self.session.execute(sql, rows[first:first + INSERT_BATCH])


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


# How each declared field type is written (floats: NaN and infinity as NULL).
_CONVERT: dict[str, Callable[[Any], Any]] = {"float": _number, "text": str, "smallint": int, "integer": int,
                                             "bigint": int}
