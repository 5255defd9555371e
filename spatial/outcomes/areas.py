"""The three areas of an intervention as H3 cells: target, buffer ring and what lies around them.

Pure geometry (shapely, h3): the service counts incidents per area in SQL by these cell ids.

- A target drawn or uploaded as a polygon is the cells whose centre lies inside it (the grid's
  own rule, :mod:`spatial.grid`); a polygon smaller than a cell is the one cell holding its
  representative point, so a small target is never empty.
- The buffer is the ring of ``rings`` cells around the target (``h3.grid_disk`` of each target
  cell, less the target): where crime pushed out of the target would show (Bowers and Johnson
  2003 use a ring of about the target's own width; one ring at resolution 9 is ~350 m).
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from spatial.grid import validate_resolution

# Enough for a programme's area, far less than a geometry that could slow the service down.
MAX_VERTICES = 10_000


class AreaRefused(ValueError):
    """A target area that cannot be used, with the reason in words."""


def target_polygon(geometry: dict[str, Any], islands: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon (lon/lat) checked: well formed, valid, on the islands.

    Raises :class:`AreaRefused` with the reason a GIS clerk can act on.
    """
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        found = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise AreaRefused(f"The target area must be a GeoJSON Polygon or MultiPolygon geometry; got {found!r}.")
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
        raise AreaRefused(f"The target polygon cannot be read: {exc}. Each ring is a list of [longitude, latitude] "
                          "pairs, closed (the last pair repeats the first).") from None
    if shapely.get_num_coordinates(polygon) > MAX_VERTICES:
        raise AreaRefused(f"The target polygon has more than {MAX_VERTICES:,} vertices; simplify it first.")
    if not polygon.is_valid:
        raise AreaRefused(f"The target polygon is not valid: {shapely.is_valid_reason(polygon)}. "
                          "Redraw it without crossing edges.")
    if polygon.is_empty or polygon.area == 0:
        raise AreaRefused("The target polygon is empty (it has no area).")
    west, south, east, north = polygon.bounds
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise AreaRefused("The target polygon's coordinates are not longitude/latitude in degrees (EPSG:4326): "
                          f"its bounds are {west:g}, {south:g}, {east:g}, {north:g}.")
    if not polygon.intersects(islands):
        raise AreaRefused("The target polygon lies outside every community of the active boundary set. "
                          "Draw it on the islands (coordinates are longitude, latitude).")
    return polygon


def polygon_cells(polygon: Polygon | MultiPolygon, resolution: int) -> np.ndarray:
    """Sorted H3 cells (int64) whose centre lies inside ``polygon``; at least the cell of its
    representative point."""
    resolution = validate_resolution(resolution)
    cells = {h3.str_to_int(c) for c in h3.geo_to_cells(polygon.__geo_interface__, resolution)}
    if not cells:
        point = polygon.representative_point()
        cells = {h3.str_to_int(h3.latlng_to_cell(point.y, point.x, resolution))}
    return np.array(sorted(cells), dtype=np.int64)


def buffer_ring(target: np.ndarray, rings: int) -> np.ndarray:
    """Sorted cells within ``rings`` steps of a target cell, the target's own cells left out."""
    if rings <= 0 or len(target) == 0:
        return np.zeros(0, dtype=np.int64)
    around = {h3.str_to_int(c) for cell in target.tolist() for c in h3.grid_disk(h3.int_to_str(int(cell)), rings)}
    return np.array(sorted(around - set(target.tolist())), dtype=np.int64)


def cells_outline(cells: np.ndarray) -> dict[str, Any] | None:
    """The outline of a set of cells as one GeoJSON geometry (for maps), or None when there are none."""
    if len(cells) == 0:
        return None
    shape_ = h3.cells_to_h3shape([h3.int_to_str(int(c)) for c in cells.tolist()])
    return shape_.__geo_interface__
