"""Mapbox vector tiles encoded in Python, for a backend without ``ST_AsMVT``.

The PostGIS store draws tiles with ``ST_AsMVTGeom`` / ``ST_AsMVT``
(app/store/tiles.py). A database with no spatial extension hands us rows
instead, and this module does the same steps on them:

1. ``tile_bounds_lonlat`` gives the box (tile plus buffer, in lon/lat) to
   select candidate rows by their stored bounding box;
2. ``encode_layer`` projects the rows' lon/lat geometries to Web Mercator and
   on to tile pixels (y down), optionally simplifies, clips to the tile plus
   buffer, snaps to the integer grid, drops what collapsed, orients rings as
   MVT wants, and writes one layer with ``mapbox_vector_tile``.

Every geometric step is a vectorised shapely/numpy call over the whole tile
(~20-30 ms for 2,000 hexagons on one core); Python loops only once per
feature, to write it. No web or database imports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import shapely
from mapbox_vector_tile.Mapbox import vector_tile_pb2
from shapely.geometry.base import BaseGeometry

EXTENT = 4096
BUFFER = 64
EARTH_RADIUS = 6378137.0
# Half the width of the Web Mercator world (EPSG:3857), in metres.
WORLD_HALF = math.pi * EARTH_RADIUS
# The latitude where Web Mercator's square world ends.
MAX_LATITUDE = math.degrees(math.atan(math.sinh(math.pi)))

Feature = tuple[BaseGeometry, Mapping[str, Any]]

_POLYGONAL = {"Polygon", "MultiPolygon"}


def tile_envelope_3857(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of tile z/x/y in EPSG:3857 metres, as ``ST_TileEnvelope``.

    ``margin`` grows the tile by that fraction of its size on every side; like
    PostGIS, y is clamped to the world and x is not.
    """
    size = 2 * WORLD_HALF / 2**z
    xmin = -WORLD_HALF + (x - margin) * size
    xmax = -WORLD_HALF + (x + 1 + margin) * size
    ymin = max(WORLD_HALF - (y + 1 + margin) * size, -WORLD_HALF)
    ymax = min(WORLD_HALF - (y - margin) * size, WORLD_HALF)
    return xmin, ymin, xmax, ymax


def tile_bounds_lonlat(z: int, x: int, y: int, margin: float = BUFFER / EXTENT) -> tuple[float, float, float, float]:
    """(west, south, east, north) in EPSG:4326 of tile z/x/y grown by ``margin``.

    The box to select candidate rows by bounding box, as
    ``ST_Transform(ST_TileEnvelope(z, x, y, margin => margin), 4326)``. The
    default margin is the encoder's buffer, so every row that can reach the
    tile is found. Longitudes are clamped to ±180 (PostGIS would wrap a
    margin beyond the antimeridian to the far side, which selects nothing
    useful: the encoder does not wrap either).
    """
    xmin, ymin, xmax, ymax = tile_envelope_3857(z, x, y, margin)
    west, east = (max(-180.0, min(180.0, math.degrees(v / EARTH_RADIUS))) for v in (xmin, xmax))
    south, north = (math.degrees(math.atan(math.sinh(v / EARTH_RADIUS))) for v in (ymin, ymax))
    return west, south, east, north


def encode_layer(layer_name: str, features: Iterable[Feature], z: int, x: int, y: int, *,
                 extent: int = EXTENT, buffer: int = BUFFER, simplify_pixels: float | None = None) -> bytes:
    """One MVT layer of ``features`` in tile z/x/y, like ``ST_AsMVT(ST_AsMVTGeom(..., clip => true))``.

    Parameters
    ----------
    layer_name : the layer's name in the tile.
    features : (geometry, properties) pairs; geometries are shapely Points,
        MultiPoints, Polygons or MultiPolygons in lon/lat (EPSG:4326), assumed
        valid; property values are str, bool, int or float (numpy scalars
        accepted); a None value is left out of its feature, as ``ST_AsMVT``
        leaves out NULLs.
    extent, buffer : tile size and buffer in pixels, as in ``ST_AsMVTGeom``.
    simplify_pixels : simplify polygons by this many pixels before clipping
        (the ``ST_Simplify`` of the community tiles); None: no simplification.

    Returns
    -------
    The encoded tile, or ``b""`` when no feature survives clipping and
    snapping (the service answers such a tile with 204).
    """
    features = list(features)
    if not features:
        return b""
    geometries = _to_tile_pixels(np.array([g for g, _ in features], dtype=object), z, x, y, extent)
    kinds = shapely.get_type_id(geometries)
    is_point = (kinds == 0) | (kinds == 4)  # Point, MultiPoint
    other = ~(is_point | (kinds == 3) | (kinds == 6))  # not (Multi)Polygon either
    if other.any():
        found = getattr(geometries[other][0], "geom_type", "missing geometry")
        raise TypeError(f"Cannot draw a {found} in a tile; "
                        "features are Points, Polygons or their Multi forms.")
    kept: dict[int, tuple[int, list[int]]] = {}  # input position: (GeomType, commands)
    if is_point.any():
        for i, point in zip(np.flatnonzero(is_point).tolist(), _clip_points(geometries[is_point], extent, buffer)):
            if point is not None:
                kept[i] = (_POINT, _point_commands(point))
    if not is_point.all():
        index = np.flatnonzero(~is_point)
        polygons = _clip_polygons(geometries[index], extent, buffer, simplify_pixels)
        present = ~shapely.is_empty(polygons)
        for i, commands in zip(index[present].tolist(), _polygon_commands(polygons[present])):
            kept[i] = (_POLYGON, commands)
    if not kept:
        return b""
    # In input order, as ST_AsMVT keeps its rows' order: it is the drawing order.
    return _layer_bytes(layer_name, [(*kept[i], features[i][1]) for i in sorted(kept)], extent)


def _to_tile_pixels(geometries: np.ndarray, z: int, x: int, y: int, extent: int) -> np.ndarray:
    """Lon/lat -> Web Mercator -> tile pixels (origin top left, y down), all coordinates at once."""
    xmin, ymin, xmax, ymax = tile_envelope_3857(z, x, y)
    x_scale = extent / (xmax - xmin)
    y_scale = extent / (ymax - ymin)

    def project(lonlat: np.ndarray) -> np.ndarray:
        # Clamp to Mercator's latitude range: a pole would go to infinity.
        lat = np.radians(np.clip(lonlat[:, 1], -MAX_LATITUDE, MAX_LATITUDE))
        mx = np.radians(lonlat[:, 0]) * EARTH_RADIUS
        my = np.log(np.tan(np.pi / 4 + lat / 2)) * EARTH_RADIUS
        return np.column_stack(((mx - xmin) * x_scale, (ymax - my) * y_scale))

    return shapely.transform(geometries, project)


def _clip_points(points: np.ndarray, extent: int, buffer: int) -> list[BaseGeometry | None]:
    """Points rounded to pixels, kept if inside the tile plus buffer, edges included; None if none is."""
    # clip_by_rect would drop a point lying on the edge, so the test is done here.
    rounded = shapely.transform(points, np.rint)
    clipped: list[BaseGeometry | None] = []
    for point in rounded:
        coords = shapely.get_coordinates(point)
        inside = coords[((coords >= -buffer) & (coords <= extent + buffer)).all(axis=1)]
        clipped.append(None if len(inside) == 0 else
                       shapely.points(inside[0]) if point.geom_type == "Point" else shapely.multipoints(inside))
    return clipped


def _clip_polygons(polygons: np.ndarray, extent: int, buffer: int, simplify_pixels: float | None) -> np.ndarray:
    """Polygons as ``ST_AsMVTGeom`` leaves them: clipped, on the whole-pixel grid, valid, MVT-oriented.

    What collapsed to nothing comes back empty.
    """
    if simplify_pixels:
        polygons = shapely.simplify(polygons, simplify_pixels, preserve_topology=True)
    # Clip before snapping, as PostGIS does.
    polygons = shapely.clip_by_rect(polygons, -buffer, -buffer, extent + buffer, extent + buffer)
    polygons = shapely.transform(polygons, np.rint)
    # Rounding rarely breaks a polygon (a thin sliver, a narrow neck): only those
    # go through set_precision, which snap-rounds to a valid result and removes
    # collapsed parts; it costs ~25 µs a polygon, so not for all of them.
    broken = ~shapely.is_valid(polygons) | (shapely.area(polygons) == 0)
    if broken.any():
        polygons[broken] = [_polygonal_part(g) for g in shapely.set_precision(polygons[broken], 1.0)]
    # MVT: exterior rings have positive area in y-down tile space, which is
    # shapely's counter-clockwise (positive shoelace area) in these numbers.
    return shapely.orient_polygons(polygons, exterior_cw=False)


def _polygonal_part(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of a geometry (a collection may hold stray lines); empty when there are none."""
    if geometry.geom_type in _POLYGONAL or geometry.is_empty:
        return geometry
    parts = [p for p in shapely.get_parts(shapely.get_parts(geometry)) if p.geom_type in _POLYGONAL]
    return shapely.multipolygons(parts) if parts else shapely.Polygon()


# --- MVT encoding (spec 2.1: command integers, zigzag deltas, dictionary-coded tags) ---------

_POINT, _POLYGON = 1, 3  # tile.GeomType
_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7


def _command(command: int, count: int) -> int:
    return command | (count << 3)


def _zigzag(values: np.ndarray) -> np.ndarray:
    return (values << 1) ^ (values >> 63)


def _point_commands(point: BaseGeometry) -> list[int]:
    coords = shapely.get_coordinates(point).astype(np.int64)
    deltas = np.diff(coords, axis=0, prepend=np.zeros((1, 2), np.int64))
    return [_command(_MOVE_TO, len(coords)), *_zigzag(deltas).ravel().tolist()]


def _polygon_commands(polygons: np.ndarray) -> list[list[int]]:
    """Each (multi)polygon's command integers, built for all of them at once.

    Per ring: MoveTo(1) x y, LineTo(n-1) ..., ClosePath, without the closing
    vertex and repeated vertices; the cursor runs on across rings and parts.
    """
    parts, part_owner = shapely.get_parts(polygons, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # exterior first, then holes
    ring_owner = part_owner[ring_part]
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    coords = coords.astype(np.int64)

    ring_first = np.searchsorted(coord_ring, np.arange(len(rings)))
    same_ring_as_next = np.r_[coord_ring[1:] == coord_ring[:-1], False]
    repeat = np.r_[False, (coords[1:] == coords[:-1]).all(axis=1) & same_ring_as_next[:-1]]
    back_to_start = (coords == coords[ring_first[coord_ring]]).all(axis=1)
    back_to_start[ring_first] = False
    keep = same_ring_as_next & ~repeat & ~back_to_start  # the closing vertex never has a next in its ring
    coords, coord_ring = coords[keep], coord_ring[keep]

    coord_owner = ring_owner[coord_ring]
    previous = np.vstack([np.zeros((1, 2), np.int64), coords[:-1]])
    previous[np.r_[True, coord_owner[1:] != coord_owner[:-1]]] = 0  # each feature starts at (0, 0)
    zigzag = _zigzag(coords - previous)

    n = np.bincount(coord_ring, minlength=len(rings))
    ring_len = 2 * n + 3
    ring_start = np.cumsum(ring_len) - ring_len
    out = np.empty(int(ring_len.sum()), np.int64)
    out[ring_start] = _command(_MOVE_TO, 1)
    out[ring_start + 3] = _command(_LINE_TO, 1) + ((n - 2) << 3)  # LineTo with n - 1 vertices
    out[ring_start + ring_len - 1] = _command(_CLOSE_PATH, 1)
    j = np.arange(len(coords)) - np.searchsorted(coord_ring, coord_ring)  # vertex number within its ring
    position = ring_start[coord_ring] + np.where(j == 0, 1, 2 + 2 * j)
    out[position], out[position + 1] = zigzag[:, 0], zigzag[:, 1]

    owner_end = np.cumsum(np.bincount(ring_owner, weights=ring_len, minlength=len(polygons))).astype(np.int64)
    flat = out.tolist()  # one conversion, then plain list slices: far cheaper than per-feature arrays
    return [flat[start:end] for start, end in zip([0, *owner_end[:-1].tolist()], owner_end.tolist())]


def _layer_bytes(name: str, features: list[tuple[int, list[int], Mapping[str, Any]]], extent: int) -> bytes:
    """The tile with one layer: features with dictionary-coded tags (None values left out)."""
    tile = vector_tile_pb2.tile()
    layer = tile.layers.add()
    layer.version, layer.name, layer.extent = 2, name, extent
    keys: dict[str, int] = {}
    values: dict[tuple[type, Any], int] = {}  # keyed by type too: 0, 0.0 and False are distinct values
    for geom_type, commands, properties in features:
        feature = layer.features.add()
        feature.type = geom_type
        feature.geometry.extend(commands)
        tags: list[int] = []
        for key, value in properties.items():
            if value is None:
                continue
            value = _plain(key, value)
            if key not in keys:
                keys[key] = len(keys)
                layer.keys.append(key)
            if (type(value), value) not in values:
                values[type(value), value] = len(values)
                _set_value(layer.values.add(), value)
            tags += (keys[key], values[type(value), value])
        feature.tags.extend(tags)
    return tile.SerializeToString()


def _plain(key: str, value: Any) -> str | bool | int | float:
    """A property value as one of the four MVT kinds; anything else is a caller's bug, refused loudly."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (str, bool, int, float)):
        raise TypeError(f"Tile property {key!r} has type {type(value).__name__}; "
                        "use str, bool, int or float (or None to leave it out).")
    return value


def _set_value(message: Any, value: str | bool | int | float) -> None:
    # As ST_AsMVT writes them: whole numbers as uint (>= 0) or sint, floats as double.
    if isinstance(value, bool):
        message.bool_value = value
    elif isinstance(value, int):
        if value >= 0:
            message.uint_value = value
        else:
            message.sint_value = value
    elif isinstance(value, float):
        message.double_value = value
    else:
        message.string_value = value
