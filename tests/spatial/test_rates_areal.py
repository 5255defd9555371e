"""Community populations on H3 cells by area, and smoothed cell rates.

Hand-built polygons near Basseterre (two rectangles sharing an edge, a
community smaller than a cell) and the 77 Chicago community areas with their
2020 population (GeoDa Center; one of them, Norwood Park, has nested shells
and is repaired as an upload would be).
"""

import h3
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, box

from spatial.rates.areal import cell_rates, interpolate_population
from spatial.weights import h3_neighbours
from tests.spatial.chicago_rates_data import chicago_areas

WEST = box(-62.75, 17.29, -62.73, 17.31)
EAST = box(-62.73, 17.29, -62.71, 17.31)  # shares WEST's edge at longitude -62.73


def test_each_community_gives_out_exactly_its_population():
    cells = interpolate_population([WEST, EAST], [1000, 3000], resolution=9)
    np.testing.assert_allclose(cells.community_totals(2), [1000, 3000], rtol=1e-12)
    assert cells.population.sum() == pytest.approx(4000, rel=1e-12)
    assert not cells.incomplete.any() and cells.refused == {}


def test_cells_straddling_two_communities_get_both_shares():
    cells = interpolate_population([WEST, EAST], [1000, 3000], resolution=9)
    givers = np.bincount(cells.share_cell, minlength=len(cells.cells))
    straddling = np.flatnonzero(givers == 2)
    assert len(straddling) >= 5  # the shared edge is ~2.2 km long; res-9 cells are ~0.35 km across
    for position in straddling:
        shares = cells.share_community[cells.share_cell == position]
        assert sorted(shares.tolist()) == [0, 1]
        boundary = np.array(h3.cell_to_boundary(h3.int_to_str(int(cells.cells[position]))))
        assert boundary[:, 1].min() < -62.73 < boundary[:, 1].max()


def test_a_cell_inside_one_community_gets_its_area_share():
    cells = interpolate_population([WEST, EAST], [1000, 3000], resolution=9)
    total_area = cells.share_area_m2[cells.share_community == 0].sum()
    inside = [i for i in range(len(cells.share_cell))
              if cells.share_community[i] == 0 and np.sum(cells.share_cell == cells.share_cell[i]) == 1]
    i = inside[len(inside) // 2]
    assert cells.share_population[i] == pytest.approx(1000 * cells.share_area_m2[i] / total_area, rel=1e-12)
    # the projected hexagon's area is the cell's true area to well under 1 %
    true_area = h3.cell_area(h3.int_to_str(int(cells.cells[cells.share_cell[i]])), unit="m^2")
    assert cells.share_area_m2[i] == pytest.approx(true_area, rel=5e-3)
    # and the community's whole area (2.2 km x 2.1 km) is covered
    assert total_area == pytest.approx(WEST.area * (111_320 * np.cos(np.radians(17.3))) * 110_700, rel=1e-2)


def test_a_community_smaller_than_a_cell_still_gives_its_residents():
    hamlet = box(-62.7200, 17.3000, -62.7195, 17.3004)  # ~50 m x 45 m, far smaller than a res-9 cell
    cells = interpolate_population([hamlet], [40], resolution=9)
    assert 1 <= len(cells.cells) <= 3
    assert cells.population.sum() == pytest.approx(40, rel=1e-12)


def test_missing_population_is_refused_and_marks_its_cells():
    cells = interpolate_population([WEST, EAST], [None, 3000], resolution=9)
    assert cells.refused == {0: "its population is missing"}
    np.testing.assert_allclose(cells.community_totals(2), [0, 3000], rtol=1e-12)
    straddling = np.bincount(cells.share_cell, minlength=len(cells.cells)) == 1
    assert cells.incomplete.sum() > 0 and not (cells.population[cells.incomplete & ~straddling] > 0).any()
    counts = np.ones(len(cells.cells))
    rates = cell_rates(cells, cells.cells, counts)
    assert np.isnan(rates.raw[cells.incomplete]).all()
    assert np.isfinite(rates.raw[~cells.incomplete]).all()
    assert rates.refused[int(np.flatnonzero(cells.incomplete)[0])] == "its population is missing"


def test_chicago_populations_on_cells_add_up_per_community():
    chicago = chicago_areas()
    cells = interpolate_population(chicago.polygons, chicago.population, resolution=8)
    np.testing.assert_allclose(cells.community_totals(len(chicago.polygons)), chicago.population, rtol=1e-10)
    assert cells.population.sum() == pytest.approx(chicago.population.sum(), rel=1e-12)
    assert (np.bincount(cells.share_cell) > 1).sum() > 100  # many cells straddle two areas


def test_chicago_cell_rates_are_smoothed_toward_the_city_rate():
    chicago = chicago_areas()
    cells = interpolate_population(chicago.polygons, chicago.population, resolution=8)
    rng = np.random.default_rng(8)
    incidents = rng.poisson(cells.population * 0.004)
    graph = h3_neighbours(cells.cells)
    rates = cell_rates(cells, cells.cells, incidents, per=1000, graph=graph)
    has_rate = rates.has_rate
    assert has_rate.sum() >= 0.99 * len(cells.cells)  # only cells with (almost) no residents could fail
    overall = rates.overall
    # shrinkage: every smoothed rate lies between its raw rate and the overall rate
    raw, smooth = rates.raw[has_rate], rates.smoothed[has_rate]
    low, high = np.minimum(raw, overall), np.maximum(raw, overall)
    assert ((smooth >= low - 1e-12) & (smooth <= high + 1e-12)).all()
    # sliver cells with a handful of residents are pulled almost all the way in
    tiny = rates.population[has_rate] < 50
    assert tiny.any()
    assert np.abs(smooth[tiny] - overall).max() < np.abs(raw[tiny] - overall).max()
    assert np.isfinite(rates.spatial_smoothed[has_rate]).all()


def test_cells_of_the_run_without_residents_are_refused():
    cells = interpolate_population([WEST], [1000], resolution=9)
    outside = h3.str_to_int(h3.latlng_to_cell(17.5, -62.5, 9))
    rates = cell_rates(cells, np.append(cells.cells, outside), np.zeros(len(cells.cells) + 1))
    assert rates.refused[-1] == "its population is missing" and np.isnan(rates.raw[-1])


def test_a_community_in_two_parts_gives_each_part_its_area_share():
    # one parish on two islands: the larger island (4x the area) holds 4/5 of the residents
    small, large = box(-62.75, 17.29, -62.74, 17.30), box(-62.60, 17.20, -62.58, 17.22)
    cells = interpolate_population([MultiPolygon([small, large])], [500], resolution=9)
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c)))[1] for c in cells.cells])
    on_large = centres > -62.7
    assert cells.population[on_large].sum() == pytest.approx(400, rel=2e-3)
    assert cells.population.sum() == pytest.approx(500, rel=1e-12)
