"""Community populations spread onto H3 cells by area, and smoothed cell rates.

Areal interpolation (area-weighted, extensive variable)
-------------------------------------------------------
Residents are assumed spread evenly over their community: a cell receives
from each community the share of the community's population equal to the
share of the community's area that lies in the cell. Every cell that
overlaps a community takes part (not only cells whose centre is inside, the
rule of :mod:`spatial.grid`), so a cell straddling two communities receives
a share from each, and the shares of one community add up to its
population (normalised by the area actually covered, so exactly up to float
rounding). Areas are measured in a Lambert azimuthal equal-area projection
centred on the communities.

Even spread is an assumption: parks, rail yards and lakes hold no one.
Population-weighted refinements (tobler's dasymetric methods) need a land-
use layer the service does not have.

A community whose population is missing or negative gives no share (its
cells are marked incomplete and get no rate); a population of 0 gives shares
of 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from spatial.boundaries.geometry import LONLAT, clean_geometry, equal_area_crs, transform_geometries
from spatial.grid import cell_boundaries, validate_resolution
from spatial.rates.community import PER_1000, CommunityRates, community_rates
from spatial.weights import NeighbourGraph

# Share of a community's area the cells may miss before the cover is called broken (float noise only)
COVER_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CellPopulation:
    """Residents per H3 cell, and the share each community gave each cell.

    Attributes
    ----------
    cells : numpy.ndarray of int64
        Cells that overlap at least one community, ascending.
    population : numpy.ndarray
        Residents of each cell (sum of its shares).
    incomplete : numpy.ndarray of bool
        Cells overlapping a community whose population is unknown: their
        population is a lower bound, so no rate is given for them.
    share_community, share_cell : numpy.ndarray of int
        For each share, the community's position (in the input) and the
        cell's position in ``cells``.
    share_population, share_area_m2 : numpy.ndarray
        Residents given, and the area of the cell inside the community (m²).
    refused : dict[int, str]
        Community position -> why it gave no share.
    """

    cells: np.ndarray
    population: np.ndarray
    incomplete: np.ndarray
    share_community: np.ndarray
    share_cell: np.ndarray
    share_population: np.ndarray
    share_area_m2: np.ndarray
    refused: dict[int, str]

    def community_totals(self, n_communities: int) -> np.ndarray:
        """Residents given out by each community (equal to its population when it had one)."""
        return np.bincount(self.share_community, weights=self.share_population, minlength=n_communities)


def _overlapping_cells(polygon: Polygon | MultiPolygon, resolution: int) -> np.ndarray:
    """Cells overlapping the polygon, plus one ring around them.

    The ring makes the cover robust to the difference between H3's
    geodesic cell edges and the straight edges measured here; cells that
    turn out not to overlap get an area of 0 and are dropped.
    """
    shape = h3.geo_to_h3shape(polygon.__geo_interface__)
    cells = {h3.str_to_int(c) for c in h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap")}
    if not cells:  # a community smaller than any cell: start from the cell of a point inside it
        point = polygon.representative_point()
        cells = {h3.str_to_int(h3.latlng_to_cell(point.y, point.x, resolution))}
    ring = {h3.str_to_int(n) for c in cells for n in h3.grid_disk(h3.int_to_str(c), 1)}
    return np.array(sorted(cells | ring), dtype=np.int64)


def _areas_inside(polygon, hexagons: np.ndarray) -> np.ndarray:
    """Area of each (projected) hexagon inside the (projected) polygon."""
    shapely.prepare(polygon)
    inside = shapely.contains_properly(polygon, hexagons)
    areas = shapely.area(hexagons)
    partial = ~inside
    areas[partial] = shapely.area(shapely.intersection(hexagons[partial], polygon))
    return areas


def _repaired(polygon):
    """The polygon, repaired as boundary uploads are when it is invalid (GEOS refuses to cut it otherwise)."""
    if polygon.is_valid:
        return polygon
    cleaned = clean_geometry(polygon)
    if cleaned.geometry is None:
        raise ValueError(f"a community boundary cannot be used: {cleaned.refused_because}")
    return cleaned.geometry


def _community_shares(polygon, resolution: int, crs) -> tuple[np.ndarray, np.ndarray]:
    """Cells overlapping one community and the area of each inside it (m²)."""
    cells = _overlapping_cells(polygon, resolution)
    hexagons = transform_geometries(np.array(cell_boundaries(cells), dtype=object), LONLAT, crs)
    projected = _repaired(transform_geometries(np.array([polygon], dtype=object), LONLAT, crs)[0])
    areas = _areas_inside(projected, hexagons)
    covered, whole = float(areas.sum()), float(projected.area)
    if whole > 0 and abs(covered - whole) > COVER_TOLERANCE * whole:
        raise ValueError(f"the cells cover {covered:.1f} m² of a community of {whole:.1f} m²")
    keep = areas > 0
    return cells[keep], areas[keep]


def _population_refusal(population) -> str | None:
    if population is None or not math.isfinite(float(population)):
        return "its population is missing"
    if float(population) < 0:
        return "its population is negative"
    return None


def interpolate_population(polygons: Sequence[Polygon | MultiPolygon], populations,
                           resolution: int) -> CellPopulation:
    """Spread each community's residents over the H3 cells it overlaps, by area.

    Parameters
    ----------
    polygons : sequence of shapely Polygon or MultiPolygon
        Community boundaries in longitude/latitude (EPSG:4326).
    populations : sequence of float or None
        Residents of each community.
    resolution : int
        H3 resolution (7-11).

    Returns
    -------
    CellPopulation
    """
    resolution = validate_resolution(resolution)
    polygons = list(polygons)
    populations = list(populations)
    if len(polygons) != len(populations):
        raise ValueError(f"{len(polygons)} communities but {len(populations)} populations")
    crs = equal_area_crs(np.array(polygons, dtype=object))
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    refused: dict[int, str] = {}
    for position, (polygon, population) in enumerate(zip(polygons, populations)):
        cells, areas = _community_shares(polygon, resolution, crs)
        reason = _population_refusal(population)
        if reason is None and not areas.sum() > 0:
            reason = "its boundary has no area on the grid, so its residents cannot be placed in cells"
        if reason is not None:
            refused[position] = reason
            residents = np.full(len(areas), np.nan)
        else:
            residents = areas * (float(population) / areas.sum())
        parts.append((position, cells, areas, residents))
    return _assemble(parts, refused)


def _assemble(parts, refused: dict[int, str]) -> CellPopulation:
    """One table of shares from the communities' parts; cells summed."""
    if not parts:
        empty = np.empty(0)
        return CellPopulation(np.empty(0, np.int64), empty, np.empty(0, bool), np.empty(0, np.int64),
                              np.empty(0, np.int64), empty, empty, refused)
    share_cells = np.concatenate([cells for _, cells, _, _ in parts])
    all_cells = np.unique(share_cells)
    community = np.concatenate([np.full(len(cells), p) for p, cells, _, _ in parts]).astype(np.int64)
    cell = np.searchsorted(all_cells, share_cells)
    areas = np.concatenate([areas for _, _, areas, _ in parts])
    given = np.concatenate([residents for _, _, _, residents in parts])
    unknown = np.isnan(given)
    population = np.bincount(cell[~unknown], weights=given[~unknown], minlength=len(all_cells))
    incomplete = np.bincount(cell[unknown], minlength=len(all_cells)) > 0
    keep = ~unknown
    return CellPopulation(cells=all_cells, population=population, incomplete=incomplete,
                          share_community=community[keep], share_cell=cell[keep],
                          share_population=given[keep], share_area_m2=areas[keep], refused=refused)


def cell_rates(population: CellPopulation, cells, incidents, *, per: int = PER_1000,
               graph: NeighbourGraph | None = None) -> CommunityRates:
    """Raw and Empirical Bayes rates of H3 cells from interpolated residents.

    Parameters
    ----------
    population : CellPopulation
        From :func:`interpolate_population`.
    cells : array_like of int64
        The run's cells (any order); a cell with no resident share, or an
        incomplete one, is refused with a reason.
    incidents : array_like
        Incidents per cell, same order as ``cells``.
    per : {1000, 10000}
    graph : NeighbourGraph, optional
        H3 neighbours of ``cells`` for the spatial EB rate.

    Returns
    -------
    CommunityRates
        One entry per cell of ``cells``; cells are named by their H3 index.
    """
    cells = np.asarray(cells, dtype=np.int64)
    position = np.searchsorted(population.cells, cells)
    position[position == len(population.cells)] = 0
    found = (population.cells[position] == cells) if len(population.cells) else np.zeros(len(cells), bool)
    residents = np.where(found, population.population[position], np.nan)
    residents[found & population.incomplete[position]] = np.nan
    names = [f"cell {h3.int_to_str(int(c))}" for c in cells]
    return community_rates(incidents, residents, per=per, graph=graph, names=names)
