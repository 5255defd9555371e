"""Hotspot runs on SQLite: JSON through json_extract, cells as WKB rows with their box."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from app.store.hotspots import Runs
from app.store.sqlite.common import geojson_text
from spatial.hotspots import CellResults

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

    def store_cells(self, run_id: int, cells: CellResults, polygons_wkb: list[bytes]) -> None:
        bounds = shapely.bounds(shapely.from_wkb(polygons_wkb)) if polygons_wkb else np.zeros((0, 4))
        floats = ("gi_z", "gi_p", "gi_p_sim", "gi_p_fdr", "lisa_i", "lisa_p_sim", "lisa_p_fdr")
        columns = {name: np.asarray(getattr(cells, name), dtype=np.float64) for name in floats}
        rows = [
            {"run_id": run_id, "cell": int(cells.cells[i]), "community_id": int(cells.community[i]),
             "incidents": int(cells.incidents[i]), "gi_bin": int(cells.gi_bin[i]),
             "lisa_quadrant": int(cells.lisa_quadrant[i]), "lisa_label": str(cells.lisa_label[i]),
             "geom": bytes(polygons_wkb[i]), "west": float(bounds[i, 0]), "south": float(bounds[i, 1]),
             "east": float(bounds[i, 2]), "north": float(bounds[i, 3]),
             **{name: _number(values[i]) for name, values in columns.items()}}
            for i in range(len(cells))
        ]
        sql = text(
            "INSERT INTO hotspot_cells (run_id, cell, community_id, incidents, gi_z, gi_p, gi_p_sim, gi_p_fdr, "
            "gi_bin, lisa_i, lisa_quadrant, lisa_p_sim, lisa_p_fdr, lisa_label, geom, west, south, east, north) "
            "VALUES (:run_id, :cell, :community_id, :incidents, :gi_z, :gi_p, :gi_p_sim, :gi_p_fdr, :gi_bin, "
            ":lisa_i, :lisa_quadrant, :lisa_p_sim, :lisa_p_fdr, :lisa_label, :geom, :west, :south, :east, :north)"
        )
        for first in range(0, len(rows), INSERT_BATCH):
            self.session.execute(sql, rows[first:first + INSERT_BATCH])


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
