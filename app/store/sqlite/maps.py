"""Map GeoJSON on SQLite: built in Python from the stored WKB (PostGIS builds it in SQL)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.store.maps import CELL_PRECISION, OUTLINE_TOLERANCE_DEG
from app.store.sql import in_list
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _geometry(wkb: bytes, digits: int, tolerance: float = 0.0) -> dict:
    shape = shapely.from_wkb(bytes(wkb))
    if tolerance:
        shape = shapely.simplify(shape, tolerance, preserve_topology=True)
    return json.loads(shapely.to_geojson(shapely.transform(shape, lambda xy: np.round(xy, digits))))


def cells_feature_collection(session: Session, run_id: int, *, min_count: int | None = None,
                             scope: list[int] | None = None, kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> str:
    clause, params = in_list(session, "h.community_id", scope, "scope") if scope is not None else ("1 = 1", {})
    published = min_count is not None  # as the PostGIS store: the published view, classes only
    statistics = () if published else kind.map_statistics
    columns = "".join(f", h.{name}" for name, _, _ in statistics)
    table = kind.published_cell_table if published else kind.cell_table
    classes = "".join(f"h.{name}, " for name in kind.map_classes)
    rows = session.execute(
        text(
            f"SELECT h.incidents, {classes}c.name AS community{columns}, h.geom "
            f"FROM {table} h JOIN communities c ON c.id = h.community_id "
            f"WHERE h.run_id = :run_id AND {clause} ORDER BY h.cell"
        ),
        {"run_id": run_id, **params},
    )
    features = []
    for r in rows:
        properties: dict[str, Any] = {"incidents": r.incidents, **{name: r._mapping[name] for name in kind.map_classes},
                                      "community": r.community}
        if published:
            properties["suppressed"] = r.incidents is None
        else:
            properties.update({name: _rounded(r._mapping[name], digits) for name, digits, _ in statistics})
        features.append({"type": "Feature", "geometry": _geometry(r.geom, CELL_PRECISION), "properties": properties})
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def communities_feature_collection(session: Session, community_ids: list[int]) -> tuple[str, tuple | None]:
    clause, params = in_list(session, "id", community_ids, "id")
    rows = session.execute(
        text(f"SELECT name, geom, west, south, east, north FROM communities WHERE {clause} ORDER BY id"), params
    ).all()
    features = [{"type": "Feature", "geometry": _geometry(r.geom, 5, OUTLINE_TOLERANCE_DEG),
                 "properties": {"community": r.name}} for r in rows]
    bounds = None
    if rows:
        bounds = (min(r.west for r in rows), min(r.south for r in rows),
                  max(r.east for r in rows), max(r.north for r in rows))
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")), bounds
