"""Geometry work on boundaries: reprojection, repair, areas, overlaps, gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from spatial.boundaries.models import Gap, Overlap

LONLAT = CRS.from_epsg(4326)
_POLYGONAL = ("Polygon", "MultiPolygon")


def transform_geometries(geometries: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries, x = longitude/easting (always_xy)."""
    if source.equals(target, ignore_axis_order=True):
        return geometries
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, move)


def lonlat_extent_ok(geometries: np.ndarray) -> bool:
    """True when every coordinate is a finite longitude/latitude."""
    coords = shapely.get_coordinates(geometries)
    if not len(coords):
        return True
    finite = np.isfinite(coords).all()
    return bool(finite and np.abs(coords[:, 0]).max() <= 180 and np.abs(coords[:, 1]).max() <= 90)


@dataclass(frozen=True)
class CleanedGeometry:
    """A feature's geometry as a MultiPolygon, or why it cannot be one."""

    geometry: MultiPolygon | None
    repaired_because: str | None = None
    refused_because: str | None = None
    dropped_parts: str | None = None


def clean_geometry(geometry: BaseGeometry | None) -> CleanedGeometry:
    """Keep the polygonal part of a feature, repairing it with ``make_valid`` if needed."""
    if geometry is None:
        return CleanedGeometry(None, refused_because="it has no geometry (or the geometry could not be read)")
    if geometry.is_empty:
        return CleanedGeometry(None, refused_because="its geometry is empty")
    geometry = shapely.force_2d(geometry)
    kind = geometry.geom_type
    dropped = None
    if kind not in _POLYGONAL:
        parts = _polygonal_parts(geometry)
        if not parts:
            return CleanedGeometry(
                None, refused_because=f"it is a {kind}, not an area; boundaries must be polygons"
            )
        dropped = f"non-polygon parts of a {kind} were left out"
        geometry = MultiPolygon(parts)
    repaired_because = None
    if not geometry.is_valid:
        repaired_because = shapely.is_valid_reason(geometry)
        # "structure" unions overlapping parts of a multipolygon (a nested
        # duplicate shell stays covered) instead of turning them into holes.
        parts = _polygonal_parts(shapely.make_valid(geometry, method="structure", keep_collapsed=False))
        if not parts:
            return CleanedGeometry(
                None, refused_because=f"its polygon is invalid ({repaired_because}) and has no area once repaired"
            )
        geometry = MultiPolygon(parts)
    if geometry.area == 0:
        return CleanedGeometry(None, refused_because="its polygon has no area")
    return CleanedGeometry(_as_multipolygon(geometry), repaired_because, None, dropped)


def _polygonal_parts(geometry: BaseGeometry) -> list[Polygon]:
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry]
    if hasattr(geometry, "geoms"):
        return [part for sub in geometry.geoms for part in _polygonal_parts(sub)]
    return []


def _as_multipolygon(geometry: BaseGeometry) -> MultiPolygon:
    if isinstance(geometry, MultiPolygon):
        return geometry
    return MultiPolygon([geometry])


def equal_area_crs(lonlat_geometries: np.ndarray) -> CRS:
    """A Lambert azimuthal equal-area projection centred on the data (metres)."""
    minx, miny, maxx, maxy = shapely.total_bounds(lonlat_geometries)
    return CRS.from_proj4(
        f"+proj=laea +lat_0={(miny + maxy) / 2:.6f} +lon_0={(minx + maxx) / 2:.6f} "
        "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


@dataclass
class TopologyFindings:
    overlaps: list[Overlap]
    overlap_slivers: int
    overlap_slivers_area_m2: float
    gaps: list[Gap]
    gap_slivers: int
    gap_slivers_area_m2: float


def find_overlaps_and_gaps(
    area_geometries: np.ndarray,
    numbers: list[int],
    names: list[str],
    area_crs: CRS,
    sliver_m2: float,
) -> TopologyFindings:
    """Overlaps between pairs of communities and holes in their union (areas in m²)."""
    to_lonlat = Transformer.from_crs(area_crs, LONLAT, always_xy=True)
    tree = shapely.STRtree(area_geometries)
    overlaps, overlap_slivers, overlap_sliver_area = _overlaps(area_geometries, tree, numbers, names, to_lonlat, sliver_m2)
    gaps, gap_slivers, gap_sliver_area = _gaps(area_geometries, tree, names, to_lonlat, sliver_m2)
    return TopologyFindings(overlaps, overlap_slivers, overlap_sliver_area, gaps, gap_slivers, gap_sliver_area)


def _overlaps(geometries, tree, numbers, names, to_lonlat, sliver_m2):
    left, right = tree.query(geometries, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.intersection(geometries[left], geometries[right])
    areas = shapely.area(shared)
    overlaps, slivers, sliver_area = [], 0, 0.0
    for a, b, piece, area in zip(left, right, shared, areas):
        if area <= 0:
            continue  # they only touch along a border
        if area < sliver_m2:
            slivers += 1
            sliver_area += float(area)
            continue
        overlaps.append(
            Overlap(numbers[a], names[a], numbers[b], names[b], round(float(area), 1), _lonlat_point(piece, to_lonlat))
        )
    return overlaps, slivers, sliver_area


def _gaps(geometries, tree, names, to_lonlat, sliver_m2):
    union = _union(geometries)
    holes = [Polygon(ring) for part in _polygonal_parts(union) for ring in part.interiors]
    gaps, slivers, sliver_area = [], 0, 0.0
    for hole in holes:
        # Communities lying inside the hole are not part of the gap.
        gap = hole.difference(union)
        area = float(gap.area)
        if area <= 0:
            continue
        if area < sliver_m2:
            slivers += 1
            sliver_area += area
            continue
        neighbours = tree.query(gap, predicate="dwithin", distance=1.0)
        bordering = sorted({names[i] for i in neighbours})
        gaps.append(Gap(round(area, 1), _lonlat_point(gap, to_lonlat), bordering))
    gaps.sort(key=lambda gap: -gap.area_m2)
    return gaps, slivers, sliver_area


def _union(geometries: np.ndarray) -> BaseGeometry:
    try:
        return shapely.union_all(geometries)
    except shapely.errors.GEOSException:
        # Snapping to a millimetre grid makes a noisy union robust.
        return shapely.union_all(geometries, grid_size=0.001)


def _lonlat_point(geometry: BaseGeometry, to_lonlat: Transformer) -> tuple[float, float]:
    point = geometry.representative_point()
    lon, lat = to_lonlat.transform(point.x, point.y)
    return (round(lon, 7), round(lat, 7))
