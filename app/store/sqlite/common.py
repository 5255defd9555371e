"""Small pieces the SQLite store modules share: boxes, GeoJSON text, LIKE lists, hold-back cut-offs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely


def box_of(geometry) -> dict[str, float]:
    """The four bounding-box columns of a geometry."""
    west, south, east, north = shapely.bounds(geometry)
    return {"west": float(west), "south": float(south), "east": float(east), "north": float(north)}


def geojson_text(wkb: bytes, digits: int) -> str:
    """A geometry's GeoJSON with coordinates rounded, as ``ST_AsGeoJSON(geom, digits)`` gives it."""
    geometry = shapely.transform(shapely.from_wkb(bytes(wkb)), lambda xy: np.round(xy, digits))
    return shapely.to_geojson(geometry)


def not_like_any(column: str, patterns: list[str], prefix: str = "excluded") -> tuple[str, dict[str, Any]]:
    """``NOT lower(coalesce(column, '')) LIKE ANY(patterns)`` (PostgreSQL escapes with a backslash)."""
    if not patterns:
        return "1 = 1", {}
    names = [f"{prefix}_{n}" for n in range(len(patterns))]
    tests = " OR ".join(f"lower(coalesce({column}, '')) LIKE :{name} ESCAPE '\\'" for name in names)
    return f"NOT ({tests})", dict(zip(names, patterns, strict=True))


def in_list(column: str, values: list[Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """``column = ANY(values)`` as an IN list of bound parameters."""
    names = [f"{prefix}_{n}" for n in range(len(values))]
    if not names:
        return "1 = 0", {}
    return f"{column} IN ({', '.join(':' + n for n in names)})", dict(zip(names, values, strict=True))


def hold_back_cutoff(days: int) -> datetime:
    """Incidents before this time are old enough to show (``now() - hold_back_days``, never in the future)."""
    return datetime.now(UTC) - timedelta(days=max(days, 0))
