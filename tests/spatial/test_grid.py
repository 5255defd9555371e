"""Grid cover: containment rule, overlaps, holes, parents, boundaries."""

import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from spatial.grid import (
    MIN_CELLS_FOR_HOTSPOTS,
    cell_area_km2,
    cell_boundaries,
    cell_centres,
    cell_resolutions,
    cover_communities,
    h3_parent_bits,
    parent_cells,
    too_small,
    too_small_message,
)

SQUARE = box(-62.80, 17.30, -62.76, 17.34)  # ~4 km x 4.4 km on St Kitts


@pytest.mark.parametrize("resolution", [6, 12, 0, 9.5, True, "9"])
def test_resolution_outside_7_to_11_is_refused(resolution):
    with pytest.raises((ValueError, TypeError)):
        cover_communities([SQUARE], [1], resolution)


def test_resolution_error_message_names_the_range():
    with pytest.raises(ValueError, match="7-11"):
        cover_communities([SQUARE], [1], 12)


def test_kna_every_cell_in_exactly_one_parish(kna_parishes, kna_grid):
    polygons, names = kna_parishes
    assert len(polygons) == 14
    cells = kna_grid.cells
    assert cells.dtype == np.int64
    assert np.all(np.diff(cells) > 0), "cells sorted ascending and unique"
    assert len(kna_grid.community) == len(cells)
    assert set(kna_grid.cells_per_community()) == set(range(14)), "every parish has cells"
    # the owner is the first parish (input order) containing the cell centre
    centres = cell_centres(cells)
    inside = np.column_stack(
        [shapely.contains_xy(p, centres[:, 0], centres[:, 1]) for p in polygons]
    )
    assert inside.any(axis=1).all(), "every cell centre lies in some parish"
    np.testing.assert_array_equal(kna_grid.community, inside.argmax(axis=1))


def test_kna_grid_includes_empty_cells_and_covers_the_area(kna_parishes, kna_grid):
    polygons, _ = kna_parishes
    # The grid is built from the boundaries alone: with no incidents at all
    # it still holds every cell; its area matches the parishes' area.
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    parish_km2 = sum(abs(geod.geometry_area_perimeter(p)[0]) for p in polygons) / 1e6
    grid_km2 = cell_area_km2(kna_grid.cells).sum()
    assert grid_km2 == pytest.approx(parish_km2, rel=0.05)
    counts = np.zeros(len(kna_grid.cells))  # incidents joined later; zeros stay
    assert len(counts) == len(kna_grid) > 3000


def test_overlapping_polygons_first_in_input_order_wins():
    left = box(-62.80, 17.30, -62.76, 17.34)
    right = box(-62.78, 17.30, -62.74, 17.34)  # overlaps the east half of left
    a = cover_communities([left, right], [10, 20], 9)
    b = cover_communities([right, left], [20, 10], 9)
    np.testing.assert_array_equal(a.cells, b.cells)
    overlap = box(-62.78, 17.30, -62.76, 17.34)
    c = cell_centres(a.cells)
    in_overlap = shapely.contains_xy(overlap, c[:, 0], c[:, 1])
    assert in_overlap.sum() > 50
    assert np.all(a.community[in_overlap] == 10)
    assert np.all(b.community[in_overlap] == 20)
    assert len(np.unique(a.cells)) == len(a.cells)


def test_holes_and_multipolygons():
    hole = box(-62.79, 17.31, -62.77, 17.33)
    ring = Polygon(SQUARE.exterior.coords, [hole.exterior.coords])
    grid = cover_communities([ring], [1], 10)
    c = cell_centres(grid.cells)
    assert not shapely.contains_xy(hole, c[:, 0], c[:, 1]).any()
    full = cover_communities([SQUARE], [1], 10)
    assert len(full) > len(grid)

    far = box(-62.60, 17.12, -62.58, 17.14)  # on Nevis
    multi = MultiPolygon([SQUARE, far])
    grid = cover_communities([multi], [7], 10)
    c = cell_centres(grid.cells)
    assert shapely.contains_xy(far, c[:, 0], c[:, 1]).sum() > 20
    assert shapely.contains_xy(SQUARE, c[:, 0], c[:, 1]).sum() == len(full)


def test_too_small_lists_communities_under_30_cells():
    tiny = box(-62.70, 17.30, -62.697, 17.303)  # ~0.1 km²: a few res-9 cells
    grid = cover_communities([SQUARE, tiny], [1, 2], 9)
    small = too_small(grid)
    assert list(small) == [2]
    assert 0 < small[2] < MIN_CELLS_FOR_HOTSPOTS
    assert "at least 30" in too_small_message(2, small[2], 9)


def test_cell_boundaries_are_lon_lat_and_contain_the_centre(kna_grid):
    cells = kna_grid.cells[:50]
    for polygon, (lon, lat) in zip(cell_boundaries(cells), cell_centres(cells)):
        minx, miny, maxx, maxy = polygon.bounds
        assert -63 < minx < maxx < -62.5 and 17 < miny < maxy < 17.5
        assert polygon.contains(shapely.Point(lon, lat))


def test_cell_area_at_res_9_is_about_a_tenth_of_a_km2(kna_grid):
    # H3 res 9 averages 0.105 km²; cells near 17°N are ~0.083 km².
    areas = cell_area_km2(kna_grid.cells)
    assert np.all((areas > 0.07) & (areas < 0.12))
    assert areas[0] == pytest.approx(h3.cell_area(h3.int_to_str(int(kna_grid.cells[0])), "km^2"))


def _random_cells(n, seed):
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lng = rng.uniform(-180, 180, n)
    res = rng.integers(0, 16, n)
    cells = [h3.str_to_int(h3.latlng_to_cell(a, b, int(r))) for a, b, r in zip(lat, lng, res)]
    pentagons = [h3.str_to_int(p) for r in (0, 5, 15) for p in h3.get_pentagons(r)]
    return np.array(cells + pentagons, dtype=np.int64)


def test_parent_bit_math_equals_h3_at_every_resolution():
    cells = _random_cells(3000, seed=1)
    res = cell_resolutions(cells)
    for parent_res in range(16):
        eligible = cells[res >= parent_res]
        expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), parent_res))
                    for c in eligible]
        np.testing.assert_array_equal(h3_parent_bits(eligible, parent_res), expected)


def test_parent_of_stored_res15_cells_matches_library_helper():
    rng = np.random.default_rng(2)
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(17.3 + rng.uniform(-.1, .1),
                                                      -62.7 + rng.uniform(-.1, .1), 15))
                      for _ in range(500)], dtype=np.int64)
    assert np.all(cells > 0), "H3 ints fit in signed int64 (bigint)"
    for r in range(7, 12):
        np.testing.assert_array_equal(h3_parent_bits(cells, r), parent_cells(cells, r))


def test_parent_bits_refuses_a_finer_parent():
    cell = np.array([h3.str_to_int(h3.latlng_to_cell(17.3, -62.7, 9))])
    with pytest.raises(ValueError):
        h3_parent_bits(cell, 10)
