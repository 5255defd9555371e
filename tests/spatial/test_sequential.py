"""Sequential Monte Carlo p-values (Besag–Clifford) for Gi* on values that are not counts.

Weights: H3 k-ring 1 (binary) on a disk of 1,027 resolution-9 cells near Basseterre. Values: gamma
draws (shape 2, scale 3), a stand-in for smoothed rates. Seeds are stated in each test.
"""

import h3
import numpy as np
import pytest
from scipy.stats import binom

from spatial.inference import monte_carlo_tails
from spatial.sequential import MAX_PERMUTATIONS, SEQUENTIAL, calibrated_tails, permutations_for_grid, sequential_tails
from spatial.significance import fdr_bh, gi_bin_from_tails
from spatial.weights import h3_neighbours

ALPHA = 0.05
CENTRE = h3.latlng_to_cell(17.30, -62.72, 9)


@pytest.fixture(scope="module")
def disk():
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 18)), dtype=np.int64)
    return cells, h3_neighbours(cells, k=1)


def _budget(graph):
    return permutations_for_grid(graph.n, ALPHA)


def test_budget_lets_one_cell_reach_the_99_class_after_fdr():
    # strictly below 0.01: Gi_Bin tests p < threshold, and exactly alpha / n would give no class at all
    assert 1027 * 2 / (permutations_for_grid(1027, ALPHA) + 1) < 0.01
    assert permutations_for_grid(4, ALPHA) == 999  # never fewer than the usual 999
    assert permutations_for_grid(10**6, ALPHA) == MAX_PERMUTATIONS


def test_fixed_monte_carlo_cannot_pass_fdr_but_sequential_finds_a_planted_cluster(disk):
    cells, graph = disk
    rng = np.random.default_rng(11)
    y = rng.gamma(2.0, 3.0, len(cells))
    cluster = np.searchsorted(cells, [h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 1)])
    y[cluster] *= 3.0  # a planted area of triple risk: the centre and its six neighbours
    centre = np.searchsorted(cells, h3.str_to_int(CENTRE))
    fixed = monte_carlo_tails(y, graph, seed=3, permutations=999)
    assert (fdr_bh(fixed.p) > ALPHA).all()  # 2/1000 is above 0.05/1027: nothing can pass
    tails = sequential_tails(y, graph, seed=3, permutations=_budget(graph))
    q = fdr_bh(tails.p)
    assert tails.method == SEQUENTIAL
    assert q[centre] <= ALPHA and tails.direction[centre] == 1
    hot = np.flatnonzero((q <= ALPHA) & (tails.direction == 1))
    assert len(hot) >= 3
    flagged = hot  # hot spots only where the risk was planted (or at its edge)
    assert all(h3.grid_distance(h3.int_to_str(int(cells[i])), CENTRE) <= 2 for i in flagged)


def test_a_lone_strong_neighbourhood_reaches_the_99_class(disk):
    """One cell whose six neighbours all stand out, and no other: it must get class 3, not 1."""
    cells, graph = disk
    y = np.random.default_rng(4).gamma(2.0, 3.0, len(cells))
    centre = int(np.searchsorted(cells, h3.str_to_int(CENTRE)))
    ring = graph.indices[graph.indptr[centre]:graph.indptr[centre + 1]]
    y[ring] = y.max() * 3  # no other cell has more than three of these six among its neighbours
    tails = sequential_tails(y, graph, seed=1, permutations=_budget(graph))
    classes = gi_bin_from_tails(tails.direction, fdr_bh(tails.p))
    assert tails.p[centre] == pytest.approx(2 / (_budget(graph) + 1))
    assert classes[centre] == 3


def test_null_maps_show_a_discovery_no_more_often_than_alpha(disk):
    """Under the null (values exchangeable), BH at 5 % must flag anything in at most 5 % of maps."""
    cells, graph = disk
    rng = np.random.default_rng(2026)
    maps = 100
    with_discovery, raw_below = 0, []
    for seed in range(maps):
        tails = sequential_tails(rng.gamma(2.0, 3.0, len(cells)), graph, seed=seed, permutations=_budget(graph))
        with_discovery += bool((fdr_bh(tails.p) <= ALPHA).any())
        raw_below.append((tails.p <= 0.1).mean())
    # at a true rate of 5 %, 11 or more of 100 maps happens with probability < 0.012
    assert with_discovery <= binom.ppf(0.99, maps, ALPHA)
    # each cell's two-sided p is valid: about 10 % of cells at p <= 0.1, not more
    assert np.mean(raw_below) <= 0.1 + 0.01


def test_same_seed_same_p_and_early_stops_save_draws(disk):
    cells, graph = disk
    y = np.random.default_rng(5).gamma(2.0, 3.0, len(cells))
    first = sequential_tails(y, graph, seed=9, permutations=_budget(graph))
    again = sequential_tails(y, graph, seed=9, permutations=_budget(graph))
    np.testing.assert_array_equal(first.p, again.p)
    # an ordinary cell stops within a few hundred draws, so its p is far from the floor
    assert np.median(first.p) > 0.2
    assert np.nanmin(first.smallest_p) == pytest.approx(2 / (_budget(graph) + 1))


def test_counts_keep_the_exact_test_and_rates_go_sequential(disk):
    cells, graph = disk
    counts = np.random.default_rng(1).poisson(0.3, len(cells)).astype(float)
    assert calibrated_tails(counts, graph, seed=0, alpha=ALPHA).method == "exact-conditional"
    assert calibrated_tails(counts + 0.5, graph, seed=0, alpha=ALPHA).method == SEQUENTIAL


def test_islands_get_no_p():
    lone = np.array([h3.str_to_int(CENTRE), h3.str_to_int(h3.latlng_to_cell(17.6, -62.4, 9))], dtype=np.int64)
    ring = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(lone[1])), 1)))
    cells = np.unique(np.concatenate([lone, ring]))
    graph = h3_neighbours(cells, k=1)
    tails = sequential_tails(np.linspace(0.1, 1.0, len(cells)), graph, seed=0, permutations=999)
    island = np.searchsorted(cells, lone[0])
    assert np.isnan(tails.p[island]) and tails.direction[island] == 0
