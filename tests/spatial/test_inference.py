"""The calibrated conditional test: exact tails checked by enumeration, the tie rule, calibration and power.

Weights: H3 k-ring 1 (binary for the neighbourhood sum); every random field is seeded.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import h3
import numpy as np
import pytest

from spatial.evidence import POWER_MEAN, suggestion
from spatial.grid import cover_communities, polygons_from_geojson
from spatial.hotspots import AnalysisParameters, analyse
from spatial.inference import (
    EXACT,
    MONTE_CARLO,
    _without_one,
    conditional_tails,
    could_any_pass,
    exact_tails,
    monte_carlo_tails,
    subset_sum_table,
)
from spatial.significance import NOT_SIGNIFICANT, NO_NEIGHBOURS, fdr_bh
from spatial.weights import graph_from_csr, h3_neighbours

PARISHES = Path(__file__).resolve().parents[2] / "app" / "data" / "kna_parishes.geojson"
CLUSTERS = {"High-High", "Low-High", "Low-Low", "High-Low"}


def _random_graph(n: int, rng) -> tuple:
    adjacency = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in rng.choice([x for x in range(n) if x != i], size=rng.integers(0, 4), replace=False):
            adjacency[i, j] = adjacency[j, i] = True
    indptr = np.r_[0, np.cumsum(adjacency.sum(1))]
    indices = np.concatenate([np.flatnonzero(row) for row in adjacency]).astype(np.int32)
    return graph_from_csr(indptr, indices, n), adjacency


def _enumerated_tails(y, adjacency, i):
    """P(S >= s) and P(S <= s) by listing every choice of the cell's neighbours among the others."""
    k = int(adjacency[i].sum())
    others = np.delete(y, i)
    sums = np.array([others[list(c)].sum() for c in itertools.combinations(range(len(y) - 1), k)])
    observed = y[adjacency[i]].sum()
    return (sums >= observed).mean(), (sums <= observed).mean()


@pytest.fixture(scope="module")
def parish_grid():
    polygons, _ = polygons_from_geojson(PARISHES)
    return cover_communities(polygons, list(range(1, len(polygons) + 1)), 8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_subset_sum_table_and_division_equal_enumeration(seed):
    rng = np.random.default_rng(seed)
    y = rng.poisson(1.2, size=11)
    table = subset_sum_table(y, 4)
    for j in range(5):
        expected = np.zeros(table.shape[1])
        for combo in itertools.combinations(range(11), j):
            expected[y[list(combo)].sum()] += 1
        np.testing.assert_allclose(table[j], expected / expected.sum(), atol=1e-14)
    for own in np.unique(y):
        rest = np.delete(y, np.flatnonzero(y == own)[0])
        reduced = _without_one(table, 11, int(own))
        for j in range(5):
            expected = np.zeros(table.shape[1])
            for combo in itertools.combinations(range(10), j):
                expected[rest[list(combo)].sum()] += 1
            np.testing.assert_allclose(reduced[j], expected / expected.sum(), atol=1e-14)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_exact_tails_equal_every_arrangement(seed):
    rng = np.random.default_rng(seed)
    y = rng.poisson(0.7, size=12)
    graph, adjacency = _random_graph(12, rng)
    tails = exact_tails(y, graph)
    assert tails.method == EXACT and tails.permutations is None
    for i in range(12):
        if not adjacency[i].any():
            assert np.isnan(tails.p[i]) and tails.direction[i] == 0
            continue
        upper, lower = _enumerated_tails(y, adjacency, i)
        assert tails.upper[i] == pytest.approx(upper, abs=1e-12)
        assert tails.lower[i] == pytest.approx(lower, abs=1e-12)
        assert tails.p[i] == pytest.approx(min(1.0, 2 * min(upper, lower)), abs=1e-12)


def test_monte_carlo_agrees_with_exact_and_takes_rates():
    rng = np.random.default_rng(7)
    y = rng.poisson(0.7, size=12)
    graph, _ = _random_graph(12, rng)
    exact = exact_tails(y, graph)
    drawn = monte_carlo_tails(y, graph, seed=3, permutations=20000)
    assert drawn.method == MONTE_CARLO and drawn.permutations == 20000
    assert np.nanmax(np.abs(drawn.upper - exact.upper)) < 0.02
    assert np.nanmax(np.abs(drawn.lower - exact.lower)) < 0.02
    rates = conditional_tails(y + 0.5, graph, seed=3, permutations=999)  # not counts: Monte Carlo
    assert rates.method == MONTE_CARLO and np.nanmin(rates.smallest_p) == pytest.approx(2 / 1000)


def test_an_empty_neighbourhood_among_empty_cells_is_never_significant(parish_grid):
    rng = np.random.default_rng(8)
    y = rng.poisson(0.1, size=len(parish_grid)).astype(float)
    graph = h3_neighbours(parish_grid.cells)
    tails = exact_tails(y, graph)
    sums = graph.to_sparse() @ y
    empty = (y == 0) & (sums == 0) & (graph.cardinalities > 0)
    assert empty.sum() > 50
    # P(S <= 0) is the chance that every drawn neighbour is empty: large when most cells are
    assert np.all(tails.lower[empty] > 0.3) and np.all(tails.p[empty] > 0.5)
    result = analyse(parish_grid, y.astype(np.int64), AnalysisParameters(resolution=8, permutations=0, seed=1))
    assert not np.isin(result.cells.lisa_label[empty], list(CLUSTERS)).any()
    assert np.all(result.cells.gi_bin[empty] == 0)


def test_a_field_of_constant_counts_gives_no_label(parish_grid):
    counts = np.full(len(parish_grid), 2)
    result = analyse(parish_grid, counts, AnalysisParameters(resolution=8, permutations=0, seed=1))
    assert np.all(result.cells.gi_bin == 0)
    assert set(result.cells.lisa_label) <= {NOT_SIGNIFICANT, NO_NEIGHBOURS}
    assert "message" in result.moran


def test_null_fields_rarely_show_a_hot_spot_where_the_analytic_p_often_does(parish_grid):
    """Independent Poisson counts (no clustering) at a mean of 0.3: BH at 0.05 should flag a field
    at most 5 % of the time. 20 seeded fields: the conditional test flags at most 2 (it flags 0 here);
    the analytic p, as ArcGIS uses it, flags most of them (the defect this test guards against)."""
    rng = np.random.default_rng(9)
    conditional = analytic = 0
    for field_no in range(20):
        counts = rng.poisson(0.3, size=len(parish_grid))
        params = AnalysisParameters(resolution=8, permutations=0, seed=field_no)
        conditional += bool((analyse(parish_grid, counts, params).cells.gi_bin >= 2).any())
        old = AnalysisParameters(resolution=8, permutations=0, seed=field_no, inference="analytic")
        analytic += bool((analyse(parish_grid, counts, old).cells.gi_bin >= 2).any())
    assert conditional <= 2
    assert analytic >= 8


def test_planted_clusters_are_still_found(parish_grid):
    """Seven adjacent cells at 5x a background of 1 incident a cell: found in at least 9 of 10 fields."""
    graph = h3_neighbours(parish_grid.cells)
    interior = np.flatnonzero(graph.cardinalities == 6)
    rng = np.random.default_rng(10)
    found = 0
    for field_no in range(10):
        counts = rng.poisson(1.0, size=len(parish_grid))
        centre = int(parish_grid.cells[rng.choice(interior)])
        ring = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 1)]
        planted = np.flatnonzero(np.isin(parish_grid.cells, ring))
        counts[planted] = rng.poisson(5.0, size=len(planted))
        result = analyse(parish_grid, counts, AnalysisParameters(resolution=8, permutations=0, seed=field_no))
        hot = np.flatnonzero(result.cells.gi_bin >= 2)
        found += bool(np.isin(planted, hot).any())
    assert found >= 9


def test_fdr_needs_small_p_and_the_exact_test_reaches_them(parish_grid):
    rng = np.random.default_rng(11)
    counts = rng.poisson(2.0, size=len(parish_grid))
    tails = exact_tails(counts, h3_neighbours(parish_grid.cells))
    # far below 1/(999 + 1): a permutation floor would make FDR over this grid impossible
    assert np.nanmin(tails.smallest_p) < 1e-6
    assert could_any_pass(tails.smallest_p, 0.05)
    # ten cells whose best is 999 permutations' floor, among a thousand that cannot be extreme at all
    assert not could_any_pass(np.r_[np.full(10, 0.002), np.full(1000, 0.5)], 0.05)
    assert could_any_pass(np.full(500, 0.01), 0.05)  # all together they could pass BH
    assert np.isnan(fdr_bh(tails.p)).sum() == np.isnan(tails.p).sum()


def test_too_sparse_runs_say_so_in_plain_words(parish_grid):
    counts = np.zeros(len(parish_grid), dtype=np.int64)
    counts[::80] = 1  # six incidents, far apart
    names = {1: "Saint Anne Sandy Point"}
    result = analyse(parish_grid, counts, AnalysisParameters(resolution=8, permutations=0, seed=1), names=names)
    evidence = result.evidence
    assert not evidence.enough_data and evidence.hot_cells == 0
    assert evidence.message.startswith("Too few incidents in the area analysed to find hot spots")
    assert "coarser grid (resolution 7)" in evidence.message or "longer" in evidence.message
    assert evidence.communities and all("Too few incidents" in m for m in evidence.communities.values())
    assert evidence.as_dict()["communities"]


def test_suggestions_reach_the_power_mean():
    assert suggestion(0.1, 9) == (7, 10)  # 0.1 x 49 >= 1 two resolutions up; or ten times the period
    assert suggestion(POWER_MEAN * 2, 9) == (None, None)
    assert suggestion(0.001, 8) == (None, 1000)  # no resolution coarser than 7


def test_real_chicago_incidents_get_hot_spots_without_tie_artefacts(shared_data):
    """The 10,000 Chicago incidents of early 2012 on the 77 community areas at resolution 9 (5,634
    cells, most of them empty or with one incident): esda-style pseudo-p labelled thousands of empty
    cells "Low-Low"; the conditional test finds the dense clusters and labels no empty cell."""
    import pandas as pd

    polygons, _ = polygons_from_geojson(shared_data / "chicago" / "Chicago_2020_community_areas.geojson")
    grid = cover_communities(polygons, list(range(1, len(polygons) + 1)), 9)
    rows = pd.read_csv(shared_data / "chicago" / "chicago_crimes_2012_10k.csv",
                       usecols=["latitude", "longitude"]).dropna()
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, 9)) for a, b in zip(rows.latitude, rows.longitude)])
    found, per_cell = np.unique(cells, return_counts=True)
    counts = np.zeros(len(grid), dtype=np.int64)
    inside = np.isin(found, grid.cells)
    counts[np.searchsorted(grid.cells, found[inside])] = per_cell[inside]
    params = AnalysisParameters(resolution=9, permutations=99, seed=1)
    result = analyse(grid, counts, params)
    labels = result.cells.lisa_label
    assert (result.cells.gi_bin >= 2).sum() >= 10
    assert (labels == "High-High").sum() >= 10
    assert (labels == "Low-Low").sum() == 0 and not np.isin(labels[counts == 0], ["Low-Low", "High-Low"]).any()
    analytic = analyse(grid, counts, AnalysisParameters(resolution=9, permutations=99, seed=1, inference="analytic"))
    assert (analytic.cells.gi_bin >= 2).sum() > 5 * (result.cells.gi_bin >= 2).sum()


def test_smallest_reachable_p_comes_from_the_extreme_sums_the_data_allow():
    """A review found residues of the division at impossible sums; the power ceiling must equal
    enumeration: 2 * min(P(S = smallest possible sum), P(S = largest possible sum))."""
    y = np.array([1, 1, 0, 9, 1, 0, 0, 0, 0, 0, 1, 1, 0, 2])
    rng = np.random.default_rng(12)
    for _ in range(5):
        graph, adjacency = _random_graph(len(y), rng)
        tails = exact_tails(y, graph)
        for i in range(len(y)):
            k = int(adjacency[i].sum())
            if k == 0:
                continue
            others = np.delete(y, i)
            sums = np.array([others[list(c)].sum() for c in itertools.combinations(range(len(y) - 1), k)])
            expected = min(1.0, 2 * min((sums == sums.min()).mean(), (sums == sums.max()).mean()))
            assert tails.smallest_p[i] == pytest.approx(max(expected, 2e-12), rel=1e-9)
