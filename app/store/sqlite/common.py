"""Small pieces the SQLite store modules share: bounding boxes and GeoJSON text from WKB."""

from __future__ import annotations

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
