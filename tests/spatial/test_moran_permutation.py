"""Global Moran's I permutation test: valid, calibrated, ties counted, exact on counts.

Weights: row-standardised H3 k=1 neighbours (the St Kitts and Nevis
resolution-9 grid, two islands, or a 19-cell disk for exact enumeration).
Seeds are stated in each test.
"""

import itertools
import warnings

import esda
import h3
import numpy as np
import pytest

from spatial.moran_permutation import _layout, moran_tied_counts
from spatial.stats import _weights_matrix, moran_global
from spatial.weights import h3_neighbours, to_libpysal

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _disk_graph(k: int):
    centre = h3.latlng_to_cell(17.30, -62.75, 9)
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, k)), dtype=np.int64)
    return h3_neighbours(cells)


def _moran_i(y, weights):
    z = y - y.mean()
    return len(y) / weights.sum() * (z @ (weights @ z)) / (z @ z)


def test_matches_exact_enumeration_with_ties():
    """19 cells, values 0 x15, 1 x3, 2 x1: all 15,504 distinct relabellings enumerated.

    Many relabellings tie exactly with the observed I; the engine's shares
    (ties counted both ways) must equal the exact ones within Monte Carlo error.
    """
    graph = _disk_graph(2)
    weights = _weights_matrix(graph, "r", star=False)
    y = np.zeros(graph.n)
    y[[0, 1, 6]] = 1
    y[3] = 2  # 444 of the 15,504 relabellings tie exactly with this I
    observed = _moran_i(y, weights)
    at_least = at_most = total = 0
    for ones in itertools.combinations(range(graph.n), 3):
        rest = [c for c in range(graph.n) if c not in ones]
        for two in rest:
            v = np.zeros(graph.n)
            v[list(ones)] = 1
            v[two] = 2
            i = _moran_i(v, weights)
            at_least += i >= observed - 1e-12  # exact ties differ only by float rounding
            at_most += i <= observed + 1e-12
            total += 1
    assert total == 15504
    exact_upper, exact_lower = at_least / total, at_most / total
    # 2.9 % ties: counting them on one side only would be ~9 standard errors off
    assert exact_upper + exact_lower > 1.02

    perms = 20000
    counts = moran_tied_counts(y, graph, permutations=perms, seed=7)
    assert counts.exact and counts.tolerance == 0.0 and counts.moved_cells == 4
    for share, exact in ((counts.larger / perms, exact_upper), (counts.smaller / perms, exact_lower)):
        se = np.sqrt(exact * (1 - exact) / perms)
        assert abs(share - exact) < 4 * se


def test_null_fields_give_uniform_p(kna_graph):
    """Independent Poisson counts (no autocorrelation): P(p_sim <= a) ~ a."""
    rng = np.random.default_rng(2024)
    p = np.array([
        moran_global(rng.poisson(0.3, kna_graph.n), kna_graph, seed=s, permutations=99).p_sim
        for s in range(300)
    ])
    # binomial 99.9 % bounds for 300 fields; p from 99 permutations is on a 0.02 grid
    assert 3 <= (p <= 0.05).sum() <= 30
    assert 40 <= (p <= 0.2).sum() <= 85
    assert 0.42 < p.mean() < 0.58


def test_clustered_field_gets_the_smallest_p(kna_graph, kna_grid):
    """A planted cluster (k-ring of 3 around one cell at 10x the background) on sparse counts."""
    rng = np.random.default_rng(5)
    y = rng.poisson(0.3, kna_graph.n).astype(float)
    centre = h3.str_to_int(h3.latlng_to_cell(17.2955, -62.7250, 9))  # Basseterre
    cluster = np.isin(kna_grid.cells, [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 3)])
    assert cluster.sum() == 27  # the 37-cell disk, less the sea
    y[cluster] = rng.poisson(3.0, cluster.sum())
    result = moran_global(y, kna_graph, seed=11, permutations=999)
    assert result.larger == 0 and result.smaller == 999
    assert result.p_sim == pytest.approx(0.002)


def test_constant_field_is_all_ties():
    graph = _disk_graph(2)
    counts = moran_tied_counts(np.full(graph.n, 3.0), graph, permutations=50, seed=1)
    assert (counts.larger, counts.smaller) == (50, 50)


def test_a_single_incident_in_the_middle_is_never_significant():
    """One incident: every placement deep inside gives exactly the observed I.

    Counting only strictly larger values (or float rounding) could call it
    significant; counting ties both ways gives p = 1.
    """
    graph = _disk_graph(6)  # 127 cells; the 61 within 4 steps of the centre and their
    y = np.zeros(graph.n)  # neighbours all have 6 neighbours, so placements there tie
    y[np.flatnonzero(graph.cardinalities == 6)[40]] = 1
    result = moran_global(y, graph, seed=3, permutations=999)
    ties = result.larger + result.smaller - 999
    assert ties > 0.4 * 999  # ~61/127
    assert result.p_sim == 1.0


def test_float_path_counts_the_same_ties_as_the_exact_path(kna_graph):
    """I does not change when every value is halved; half-integers take the float path.

    Same seed, same draws: the float64 comparison with its tolerance must
    count exactly the relabellings the integer arithmetic counts, ties included.
    """
    y = np.random.default_rng(8).poisson(0.2, kna_graph.n).astype(float)
    exact = moran_tied_counts(y, kna_graph, permutations=999, seed=4)
    halved = moran_tied_counts(y * 0.5 + 0.25, kna_graph, permutations=999, seed=4)
    assert exact.exact and not halved.exact and halved.tolerance > 0
    assert (halved.larger, halved.smaller) == (exact.larger, exact.smaller)


def test_seeded_and_reproducible(kna_graph):
    y = np.random.default_rng(9).poisson(1.0, kna_graph.n)
    a = moran_global(y, kna_graph, seed=5, permutations=199)
    b = moran_global(y, kna_graph, seed=5, permutations=199)
    c = moran_global(y, kna_graph, seed=6, permutations=199)
    assert (a.larger, a.smaller) == (b.larger, b.smaller)
    assert (a.larger, a.smaller) != (c.larger, c.smaller)
    assert a.draws_method == "fast" and "both directions" in a.tie_rule


def test_esda_draws_reproduce_esda_p_sim_exactly(kna_graph):
    """draws='esda': esda's own draws (np.random.seed) and esda's count."""
    y = np.random.default_rng(10).poisson(0.7, kna_graph.n).astype(float)
    w = to_libpysal(kna_graph, "r")
    for seed in (1, 31):
        np.random.seed(seed)
        e = esda.Moran(y, w, permutations=199)
        ours = moran_global(y, kna_graph, seed=seed, permutations=199, draws="esda")
        assert ours.p_sim_folded == e.p_sim
        assert ours.larger + ours.smaller == 199
        assert ours.draws_method == "esda"
    with pytest.raises(ValueError):
        moran_global(y, kna_graph, seed=1, permutations=9, draws="numba")


def test_large_counts_leave_int16_and_keep_the_counts(kna_graph):
    """I is unchanged by y -> c y. At c = 700 the counts overflow the int16 buffer and are
    placed in float64, still exact; at c = 1000 the bound passes 2**53 and the float
    comparison with its tolerance takes over. The counts must not change."""
    y = np.random.default_rng(12).poisson(0.5, kna_graph.n).astype(float)
    assert y.max() == 5
    small = moran_tied_counts(y, kna_graph, permutations=299, seed=13)
    assert _layout(y, kna_graph).differences.dtype == np.int16
    assert _layout(700 * y, kna_graph).differences.dtype == np.float64
    larger = moran_tied_counts(700 * y, kna_graph, permutations=299, seed=13)
    largest = moran_tied_counts(1000 * y, kna_graph, permutations=299, seed=13)
    assert small.exact and larger.exact and not largest.exact
    assert {(c.larger, c.smaller) for c in (small, larger, largest)} == {(small.larger, small.smaller)}
