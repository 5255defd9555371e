"""Hotspot runs on SQLite: JSON through json_extract, cells as WKB rows with their box."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.store.sqlite.common import geojson_text, hold_back_cutoff, in_list, not_like_any
from spatial.hotspots import CellResults

INSERT_BATCH = 5000


def list_runs(session: Session, *, limit: int, before_id: int | None = None,
              shared_up_to_resolution: int | None = None,
              covering_any_of: list[str] | None = None) -> list[dict[str, Any]]:
    clauses, params = [], {"limit": limit}
    if covering_any_of is not None:
        named, named_params = in_list("value", covering_any_of, "covering")
        clauses.append("(json_array_length(parameters, '$.communities') = 0 OR EXISTS "
                       f"(SELECT 1 FROM json_each(parameters, '$.communities') WHERE {named}))")
        params.update(named_params)
    if before_id is not None:
        clauses.append("id < :before")
        params["before"] = before_id
    if shared_up_to_resolution is not None:
        clauses.append("audience = 'shared' AND CAST(json_extract(parameters, '$.resolution') AS INTEGER) "
                       "<= :max_resolution")
        params["max_resolution"] = shared_up_to_resolution
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = session.execute(
        text(
            "SELECT id, status, progress, stage, audience, parameters, seed, boundary_set_id, created_at, "
            "finished_at, error, coalesce(json_extract(provenance, '$.synthetic'), 0) AS synthetic "
            f"FROM hotspot_runs {where} ORDER BY id DESC LIMIT :limit"
        ),
        params,
    )
    return [{**dict(r._mapping), "synthetic": bool(r.synthetic)} for r in rows]


def community_shapes(session: Session, boundary_set_id: int, names: list[str] | None) -> list[dict[str, Any]]:
    clause, params = in_list("c.name", names, "name") if names else ("1 = 1", {})
    rows = session.execute(
        text(
            "SELECT c.id, c.name, c.area_km2, c.geom AS wkb FROM communities c "
            f"WHERE c.boundary_set_id = :set_id AND {clause} ORDER BY c.id"
        ),
        {"set_id": boundary_set_id, **params},
    )
    return [{"id": r.id, "name": r.name, "area_km2": r.area_km2, "wkb": bytes(r.wkb)} for r in rows]


def counts_per_cell(
    session: Session, *, resolution: int, bbox: tuple[float, float, float, float],
    start: datetime | None, end: datetime | None, categories: list[str], sources: list[str],
    excluded_category_patterns: list[str] | None = None, hold_back_days: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = bbox
    clauses = ["lat BETWEEN :south AND :north", "lon BETWEEN :west AND :east"]
    params: dict[str, Any] = {"west": west, "south": south, "east": east, "north": north, "resolution": resolution}
    if start is not None:
        clauses.append("occurred_at >= :start")
        params["start"] = start
    if end is not None:
        clauses.append("occurred_at < :end")
        params["end"] = end
    for column, values in (("category", categories), ("source", sources)):
        if values:
            clause, more = in_list(column, values, column)
            clauses.append(clause)
            params.update(more)
    if excluded_category_patterns:
        clause, more = not_like_any("category", excluded_category_patterns)
        clauses.append(clause)
        params.update(more)
    if hold_back_days:
        clauses.append("occurred_at < :cutoff")
        params["cutoff"] = hold_back_cutoff(hold_back_days)
    rows = session.execute(
        text(
            "SELECT h3_parent(h3_cell, :resolution) AS cell, count(*) AS incidents FROM incidents "
            f"WHERE {' AND '.join(clauses)} GROUP BY 1 ORDER BY 1"
        ),
        params,
    ).all()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cells, counts = zip(*rows)
    return np.array(cells, dtype=np.int64), np.array(counts, dtype=np.int64)


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def store_cells(session: Session, run_id: int, cells: CellResults, polygons_wkb: list[bytes]) -> None:
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
        session.execute(sql, rows[first:first + INSERT_BATCH])


CELL_SELECT = (
    "SELECT h.cell, h.community_id, c.name AS community, h.incidents, h.gi_z, h.gi_p, h.gi_p_sim, h.gi_p_fdr, "
    "h.gi_bin, h.lisa_i, h.lisa_quadrant, h.lisa_p_sim, h.lisa_p_fdr, h.lisa_label, h.geom"
)


def _cell_filters(community_id: int | None, gi_bins: list[int],
                  within: list[int] | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if within is not None:
        clause, more = in_list("h.community_id", within, "within")
        clauses.append(clause)
        params.update(more)
    if community_id is not None:
        clauses.append("h.community_id = :community_id")
        params["community_id"] = community_id
    if gi_bins:
        clause, more = in_list("h.gi_bin", gi_bins, "gi_bin")
        clauses.append(clause)
        params.update(more)
    return "".join(f" AND {c}" for c in clauses), params


def cell_page(session: Session, run_id: int, *, after_cell: int | None, limit: int,
              community_id: int | None = None, gi_bins: list[int] | None = None,
              within: list[int] | None = None) -> list[dict[str, Any]]:
    extra, params = _cell_filters(community_id, gi_bins or [], within)
    if after_cell is not None:
        extra += " AND h.cell > :after"
        params["after"] = after_cell
    rows = session.execute(
        text(
            f"{CELL_SELECT} FROM hotspot_cells h JOIN communities c ON c.id = h.community_id "
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
               gi_bins: list[int] | None = None, within: list[int] | None = None) -> Iterator[dict[str, Any]]:
    extra, params = _cell_filters(community_id, gi_bins or [], within)
    result = session.execute(
        text(
            f"{CELL_SELECT} FROM hotspot_cells h JOIN communities c ON c.id = h.community_id "
            f"WHERE h.run_id = :run_id{extra} ORDER BY h.cell"
        ),
        {"run_id": run_id, **params},
    )
    for row in result:
        cell = dict(row._mapping)
        centre = shapely.centroid(shapely.from_wkb(cell.pop("geom")))
        cell["centre_lat"], cell["centre_lon"] = centre.y, centre.x
        yield cell
