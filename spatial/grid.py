"""H3 grids that cover communities, zero-incident cells included.

Containment rule
----------------
A cell belongs to a community when the cell's *centre* lies inside the
community polygon. This is the rule of ``h3.geo_to_cells`` /
``h3.polygon_to_cells``; holes are honoured (a cell whose centre falls in a
hole is outside) and every part of a MultiPolygon is covered. Cells that
straddle a boundary therefore go to exactly one side, and a community smaller
than a cell may get no cell at all.

Where polygons overlap (bad boundary files do this), a cell whose centre lies
in two polygons goes to the *first* polygon in input order, so every cell
belongs to exactly one community.

Statistics need the cells with no incidents, so the grid is built from the
polygons; incident counts are joined onto ``CommunityGrid.cells`` afterwards
(missing cells count zero). A border cell whose centre lies outside every
community analysed can still hold incidents that lie inside one (each
incident's community is its own point-in-polygon assignment):
:func:`with_incident_cells` adds such cells, each to the community with the
most of its incidents (ties: the lowest id), so no incident inside an analysed
community is lost from the analysis.

Cell ids are H3 indexes as signed 64-bit integers (H3 never sets bit 63, so
they fit in a PostgreSQL ``bigint``).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

MIN_RESOLUTION = 7
MAX_RESOLUTION = 11

#: Esri's Hot Spot Analysis asks for at least 30 features for Gi*.
MIN_CELLS_FOR_HOTSPOTS = 30

# H3 index bit layout (https://h3geo.org/docs/core-library/h3Indexing):
# bits 52-55 hold the resolution, then 15 digits of 3 bits, digit 1 highest.
_RES_SHIFT = 52
_RES_MASK = np.int64(0xF) << np.int64(_RES_SHIFT)
_DIGIT_BITS = 3
_MAX_H3_RES = 15


@dataclass(frozen=True)
class CommunityGrid:
    """The H3 cells covering a set of communities.

    Attributes
    ----------
    cells : numpy.ndarray of int64
        H3 indexes, sorted ascending, unique.
    community : numpy.ndarray of int64
        Community id of each cell (same length as ``cells``).
    resolution : int
        H3 resolution of every cell.
    """

    cells: np.ndarray
    community: np.ndarray
    resolution: int

    def __len__(self) -> int:
        return len(self.cells)

    def cells_per_community(self) -> dict[int, int]:
        """Number of cells per community id (communities with no cell omitted)."""
        ids, counts = np.unique(self.community, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts)}

    def cells_of(self, community_id: int) -> np.ndarray:
        """H3 indexes (sorted) of one community."""
        return self.cells[self.community == community_id]


def validate_resolution(resolution: int) -> int:
    """Return ``resolution`` as int, or raise ValueError outside 7–11."""
    if isinstance(resolution, bool) or int(resolution) != resolution:
        raise ValueError(f"H3 resolution must be an integer, got {resolution!r}")
    resolution = int(resolution)
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"H3 resolution {resolution} is outside the supported range "
            f"{MIN_RESOLUTION}-{MAX_RESOLUTION} (res 7 cells are ~5 km², "
            f"res 11 ~0.002 km²)"
        )
    return resolution


def _polygon_cells(polygon: Polygon | MultiPolygon, resolution: int) -> np.ndarray:
    """H3 cells (int64) whose centres lie inside one polygon."""
    if not isinstance(polygon, (Polygon, MultiPolygon)):
        raise TypeError(
            f"community boundaries must be shapely Polygon or MultiPolygon, "
            f"got {type(polygon).__name__}"
        )
    if polygon.is_empty:
        return np.empty(0, dtype=np.int64)
    # __geo_interface__ is GeoJSON: (lon, lat) order, holes and parts included.
    cells = h3.geo_to_cells(polygon.__geo_interface__, resolution)
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.int64)


def cover_communities(polygons, community_ids, resolution: int) -> CommunityGrid:
    """Cover each community polygon with H3 cells, empty cells included.

    Parameters
    ----------
    polygons : sequence of shapely Polygon or MultiPolygon
        Community boundaries in EPSG:4326 (x = longitude, y = latitude).
    community_ids : sequence of int
        One id per polygon, unique.
    resolution : int
        H3 resolution, 7 to 11.

    Returns
    -------
    CommunityGrid
        Cells sorted ascending; each cell belongs to exactly one community
        (first polygon in input order wins where polygons overlap).

    Raises
    ------
    ValueError
        Resolution out of range, lengths differ, or ids repeat.
    """
    resolution = validate_resolution(resolution)
    polygons = list(polygons)
    community_ids = [int(c) for c in community_ids]
    if len(polygons) != len(community_ids):
        raise ValueError(
            f"{len(polygons)} polygons but {len(community_ids)} community ids"
        )
    if len(set(community_ids)) != len(community_ids):
        raise ValueError("community ids must be unique")

    per_polygon = [_polygon_cells(p, resolution) for p in polygons]
    if not per_polygon:
        empty = np.empty(0, dtype=np.int64)
        return CommunityGrid(empty, empty.copy(), resolution)
    cells = np.concatenate(per_polygon)
    owner = np.concatenate(
        [np.full(len(c), k, dtype=np.int64) for k, c in enumerate(per_polygon)]
    )
    # Stable sort by cell keeps input order among duplicates: the first
    # polygon's claim comes first and wins.
    order = np.lexsort((owner, cells))
    cells, owner = cells[order], owner[order]
    first = np.ones(len(cells), dtype=bool)
    first[1:] = cells[1:] != cells[:-1]
    ids = np.asarray(community_ids, dtype=np.int64)
    return CommunityGrid(cells[first], ids[owner[first]], resolution)


def too_small(grid: CommunityGrid, minimum: int = MIN_CELLS_FOR_HOTSPOTS) -> dict[int, int]:
    """Communities with fewer than ``minimum`` cells, as ``{id: n_cells}``.

    Gi* on fewer than 30 features is not reliable (Esri's guidance); the
    caller should refuse or warn for these communities. Communities that got
    no cell at all do not appear in the grid and must be checked by the
    caller against its own list of ids.
    """
    return {cid: n for cid, n in grid.cells_per_community().items() if n < minimum}


def too_small_message(community_id: int, n_cells: int, resolution: int) -> str:
    """A planner-readable explanation for a community that is too small."""
    return (
        f"Community {community_id} has only {n_cells} H3 cells at resolution "
        f"{resolution}; hot-spot statistics need at least "
        f"{MIN_CELLS_FOR_HOTSPOTS}. Use a finer resolution or a larger area."
    )


def _as_str_cells(cells) -> list[str]:
    return [h3.int_to_str(int(c)) for c in np.asarray(cells, dtype=np.int64)]


def cell_boundaries(cells) -> list[Polygon]:
    """Cell outlines as shapely Polygons in (lon, lat) order."""
    return [
        Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
        for c in _as_str_cells(cells)
    ]


def cell_centres(cells) -> np.ndarray:
    """Cell centres as an (n, 2) array of (lon, lat)."""
    latlng = np.array([h3.cell_to_latlng(c) for c in _as_str_cells(cells)], dtype=float)
    return latlng[:, ::-1].reshape(-1, 2)


def cell_area_km2(cells) -> np.ndarray:
    """Exact (spherical) area of each cell in km²."""
    return np.array([h3.cell_area(c, unit="km^2") for c in _as_str_cells(cells)])


def parent_cells(cells, resolution: int) -> np.ndarray:
    """Parent of each cell at a coarser ``resolution``, using the h3 library."""
    return np.array(
        [h3.str_to_int(h3.cell_to_parent(c, resolution)) for c in _as_str_cells(cells)],
        dtype=np.int64,
    )


def h3_parent_bits(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Parent cells by pure bit arithmetic on the H3 index layout.

    Sets the resolution field (bits 52–55) to ``resolution`` and every digit
    for resolutions ``resolution + 1`` to 15 to 7 (unused). This is the same
    arithmetic the database uses on the stored resolution-15 ``bigint``::

        (cell & ~(15::bigint << 52)) | (res::bigint << 52)
            | ((1::bigint << (3 * (15 - res))) - 1)

    Parameters
    ----------
    cells : numpy.ndarray of int64
        Valid H3 cell indexes, each at resolution >= ``resolution``.
    resolution : int
        Target resolution, 0 to 15.

    Returns
    -------
    numpy.ndarray of int64
    """
    if not 0 <= int(resolution) <= _MAX_H3_RES:
        raise ValueError(f"H3 resolution must be 0-15, got {resolution}")
    cells = np.asarray(cells, dtype=np.int64)
    current = (cells >> np.int64(_RES_SHIFT)) & np.int64(0xF)
    if np.any(current < resolution):
        raise ValueError(f"some cells are coarser than resolution {resolution}")
    unused_digits = (np.int64(1) << np.int64(_DIGIT_BITS * (_MAX_H3_RES - resolution))) - 1
    return (cells & ~_RES_MASK) | (np.int64(resolution) << np.int64(_RES_SHIFT)) | unused_digits


def cell_resolutions(cells: np.ndarray) -> np.ndarray:
    """Resolution field (bits 52–55) of each H3 index."""
    return (np.asarray(cells, dtype=np.int64) >> np.int64(_RES_SHIFT)) & np.int64(0xF)


def polygons_from_geojson(path) -> tuple[list, list[dict]]:
    """Read a GeoJSON FeatureCollection into shapely geometries and properties.

    A small convenience for tests and scripts; ``spatial/io.py`` owns real
    boundary uploads (reprojection, repair, reporting).
    """
    import json

    with open(path, encoding="utf-8") as f:
        collection = json.load(f)
    geometries = [shapely.geometry.shape(ft["geometry"]) for ft in collection["features"]]
    properties = [ft.get("properties") or {} for ft in collection["features"]]
    return geometries, properties


def with_incident_cells(grid: CommunityGrid, cells: np.ndarray, community: np.ndarray,
                        incidents: np.ndarray) -> CommunityGrid:
    """Add to ``grid`` every cell that holds incidents of its communities, so none is lost.

    Parameters
    ----------
    grid : CommunityGrid
        The cells whose centres lie in the communities (:func:`cover_communities`).
    cells, community, incidents : numpy.ndarray of int64
        Incidents per (cell, community of the incident), from the incidents' own
        point-in-polygon assignment; one row per pair.

    Returns
    -------
    CommunityGrid
        ``grid`` plus the border cells whose centre lies outside every community
        analysed but which hold some of their incidents. Such a cell belongs to
        the community with the most of its incidents (ties: the lowest id); a cell
        of ``grid`` keeps the community that holds its centre.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if len(cells) == 0:
        return grid
    community = np.asarray(community, dtype=np.int64)
    incidents = np.asarray(incidents, dtype=np.int64)
    missing = ~np.isin(cells, grid.cells)
    if not missing.any():
        return grid
    cells, community, incidents = cells[missing], community[missing], incidents[missing]
    # Most incidents first, then the lowest id: the first row of each cell is its owner.
    order = np.lexsort((community, -incidents, cells))
    cells, community = cells[order], community[order]
    first = np.ones(len(cells), dtype=bool)
    first[1:] = cells[1:] != cells[:-1]
    all_cells = np.concatenate([grid.cells, cells[first]])
    all_owners = np.concatenate([grid.community, community[first]])
    order = np.argsort(all_cells, kind="stable")
    return CommunityGrid(all_cells[order], all_owners[order], grid.resolution)
