"""The fast permutation engine gives esda's counts exactly, much faster.

Weights: H3 k=1 (and k=2) neighbours of the St Kitts and Nevis res-9 grid,
binary for Gi* (also row-standardised), row-standardised for local Moran.
Seeds are stated in each test; esda is always run with n_jobs=1,
keep_simulations=False and the same seed, so both use the same draws.
"""

import warnings

import esda
import h3
import numpy as np
import pytest
from esda.crand import vec_permutations

from spatial.permutation import (
    folded_p,
    permutation_draws,
    permuted_neighbour_values,
    two_sided_p,
)
from spatial.stats import (
    gi_star,
    gi_star_analytic,
    local_moran,
    local_moran_analytic,
    moran_global,
    moran_permutation_counts,
    _weights_matrix,
)
from spatial.weights import h3_neighbours, to_libpysal

warnings.filterwarnings("ignore", category=DeprecationWarning)


def esda_larger(p_sim, permutations):
    """esda keeps min(larger, P - larger) as a float32 folded p; undo that."""
    return np.rint(np.asarray(p_sim, dtype=np.float64) * (permutations + 1) - 1).astype(int)


def folded_counts(larger, permutations):
    return np.minimum(larger, permutations - larger)


def poisson_counts(n, seed, mean=0.7):
    return np.random.default_rng(seed).poisson(mean, n).astype(np.float64)


def test_esda_draws_are_reproduced():
    for n, k, perms, seed in [(3184, 6, 99, 0), (500, 18, 50, 123456)]:
        np.testing.assert_array_equal(
            permutation_draws(n, k, perms, seed, "esda"), vec_permutations(k, n, perms, seed)
        )


def test_fast_draws_are_valid_and_seeded():
    d = permutation_draws(1000, 6, 500, seed=3, method="fast")
    assert d.shape == (500, 6) and d.min() >= 0 and d.max() <= 998
    assert all(len(set(row)) == 6 for row in d.tolist())
    np.testing.assert_array_equal(d, permutation_draws(1000, 6, 500, seed=3, method="fast"))
    assert not np.array_equal(d, permutation_draws(1000, 6, 500, seed=4, method="fast"))
    with pytest.raises(ValueError):
        permutation_draws(1000, 6, 10, seed=None)


@pytest.mark.parametrize("values", ["counts", "continuous"])
@pytest.mark.parametrize("transform", ["b", "r"])
def test_gi_star_counts_identical_to_esda(kna_graph, values, transform):
    perms, seed = 999, 20240601
    n = kna_graph.n
    y = poisson_counts(n, 1) if values == "counts" else np.random.default_rng(2).gamma(2.0, 1.5, n)
    ours = gi_star(y, kna_graph, seed=seed, permutations=perms, transform=transform,
                   draws="esda")
    e = esda.G_Local(y, to_libpysal(kna_graph, "b"), transform=transform.upper(), star=True,
                     permutations=perms, n_jobs=1, keep_simulations=False, seed=seed)
    np.testing.assert_array_equal(folded_counts(ours.larger, perms), esda_larger(e.p_sim, perms))
    np.testing.assert_array_equal(ours.p_sim_folded.astype(np.float32), e.p_sim)
    np.testing.assert_allclose(ours.z, e.Zs, atol=1e-9)
    assert ours.p_sim_kind == "two-sided"
    np.testing.assert_array_equal(ours.p_sim, np.minimum(1, 2 * ours.p_sim_folded))


@pytest.mark.parametrize("values", ["counts", "continuous", "mean_exactly_one"])
def test_local_moran_counts_identical_to_esda(kna_graph, values):
    perms, seed = 999, 7
    n = kna_graph.n
    if values == "continuous":
        y = np.random.default_rng(3).normal(size=n)
    else:
        y = poisson_counts(n, 4, mean=1.0)
        if values == "mean_exactly_one":  # z_i == 0 exactly where y_i == 1
            y[np.argmax(y)] += n - y.sum()
            assert y.mean() == 1.0 and (y == 1).sum() > 500
    ours = local_moran(y, kna_graph, seed=seed, permutations=perms, draws="esda")
    e = esda.Moran_Local(y, to_libpysal(kna_graph, "r"), permutations=perms, n_jobs=1,
                         keep_simulations=False, seed=seed)
    np.testing.assert_array_equal(folded_counts(ours.larger, perms), esda_larger(e.p_sim, perms))
    np.testing.assert_allclose(ours.I, e.Is, atol=1e-12)
    np.testing.assert_array_equal(ours.quadrant, e.q)
    np.testing.assert_array_equal(ours.p_sim, np.minimum(1, 2 * ours.p_sim_folded))


def test_identical_with_18_neighbours_k2(kna_grid):
    # k=2 gives 18 neighbours: BLAS takes other code paths for long rows.
    graph = h3_neighbours(kna_grid.cells, k=2)
    assert graph.cardinalities.max() == 18
    perms, seed = 999, 99
    y = poisson_counts(graph.n, 5, mean=0.5)
    ours = local_moran(y, graph, seed=seed, permutations=perms, draws="esda")
    e = esda.Moran_Local(y, to_libpysal(graph, "r"), permutations=perms, n_jobs=1,
                         keep_simulations=False, seed=seed)
    np.testing.assert_array_equal(folded_counts(ours.larger, perms), esda_larger(e.p_sim, perms))
    ours = gi_star(y, graph, seed=seed, permutations=perms, transform="r", draws="esda")
    e = esda.G_Local(y, to_libpysal(graph, "b"), transform="R", star=True,
                     permutations=perms, n_jobs=1, keep_simulations=False, seed=seed)
    np.testing.assert_array_equal(folded_counts(ours.larger, perms), esda_larger(e.p_sim, perms))


def _small_grid_cells():
    centre = h3.latlng_to_cell(17.30, -62.75, 9)
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, 7)), dtype=np.int64)


def _small_grid():
    return h3_neighbours(_small_grid_cells())


def test_counts_equal_brute_force_reference():
    """Independent of esda's code: gather every permuted neighbourhood."""
    graph = _small_grid()
    perms, seed = 199, 5
    y = poisson_counts(graph.n, 6, mean=1.5)
    draws = permutation_draws(graph.n, 6, perms, seed)
    g = gi_star_analytic(y, graph, "b")[0]
    z, _, local_i, _ = local_moran_analytic(y, graph)
    scaling = (graph.n - 1) / (z * z).sum()
    expected_gi, expected_lm = [], []
    for i in range(graph.n):
        k = int(graph.cardinalities[i])
        cells = np.full(perms, i)
        lag_y = permuted_neighbour_values(y, cells, np.arange(perms), k, draws).sum(axis=1)
        expected_gi.append(int(((lag_y + y[i]) / y.sum() >= g[i]).sum()))
        rows = permuted_neighbour_values(z, cells, np.arange(perms), k, draws)
        expected_lm.append(int((z[i] * (rows @ np.full(k, 1.0 / k)) * scaling >= local_i[i]).sum()))
    gi = gi_star(y, graph, seed=seed, permutations=perms, draws="esda")
    lm = local_moran(y, graph, seed=seed, permutations=perms, draws="esda")
    np.testing.assert_array_equal(gi.larger, expected_gi)
    np.testing.assert_array_equal(lm.larger, expected_lm)


def test_islands_get_nan_not_a_fake_p_value():
    lonely = h3.str_to_int(h3.latlng_to_cell(17.15, -62.60, 9))
    cells = np.sort(np.append(_small_grid_cells(), lonely))
    graph = h3_neighbours(cells)
    island = int(np.flatnonzero(cells == lonely)[0])
    assert graph.islands.tolist() == [island]
    perms, seed = 99, 11
    y = poisson_counts(graph.n, 8, mean=2.0)
    gi = gi_star(y, graph, seed=seed, permutations=perms, draws="esda")
    lm = local_moran(y, graph, seed=seed, permutations=perms, draws="esda")
    for result in (gi, lm):
        assert result.island[island] and result.island.sum() == 1
        assert np.isnan(result.p_sim[island]) and result.larger[island] == -1
    assert np.isnan(gi.z[island]) and np.isnan(gi.p_norm[island])
    assert np.isnan(lm.I[island]) and lm.quadrant[island] == 0
    # esda, by contrast, calls the island maximally significant
    e = esda.G_Local(y, to_libpysal(graph, "b"), transform="B", star=True,
                     permutations=perms, n_jobs=1, keep_simulations=False, seed=seed)
    assert e.p_sim[island] == pytest.approx(1 / (perms + 1))
    ok = ~gi.island
    np.testing.assert_array_equal(folded_counts(gi.larger, perms)[ok],
                                  esda_larger(e.p_sim, perms)[ok])


def test_integer_counts_work_where_esda_casts_weights_to_int(kna_graph):
    # esda with integer y and transform 'R' casts the 1/(k+1) weights to 0;
    # ours takes integer counts as they come from the database.
    y = np.random.default_rng(5).poisson(2, kna_graph.n)
    ours = gi_star(y, kna_graph, seed=1, permutations=99, transform="r", draws="esda")
    e_float = esda.G_Local(y.astype(float), to_libpysal(kna_graph, "b"), transform="R",
                           star=True, permutations=99, n_jobs=1, keep_simulations=False, seed=1)
    np.testing.assert_array_equal(folded_counts(ours.larger, 99), esda_larger(e_float.p_sim, 99))
    e_int = esda.G_Local(y, to_libpysal(kna_graph, "b"), transform="R",
                         star=True, permutations=99, n_jobs=1, keep_simulations=False, seed=1)
    assert np.all(e_int.p_sim == np.float32(0.01))  # the esda pitfall, documented


def test_constant_values_are_refused(kna_graph):
    with pytest.raises(ValueError):
        local_moran(np.ones(kna_graph.n), kna_graph, seed=1, permutations=9)
    with pytest.raises(ValueError):
        gi_star(np.zeros(kna_graph.n), kna_graph, seed=1, permutations=9)


def test_fast_draws_give_the_same_test(kna_graph):
    """Default 'fast' draws: same test, different random draws -> close p."""
    y = poisson_counts(kna_graph.n, 21, mean=0.7)
    fast = gi_star(y, kna_graph, seed=3, permutations=999)
    audit = gi_star(y, kna_graph, seed=3, permutations=999, draws="esda")
    assert fast.draws_method == "fast" and audit.draws_method == "esda"
    np.testing.assert_array_equal(fast.z, audit.z)
    # two estimates of the same p from 999 draws each (SE ~0.03 at p=0.5)
    assert np.abs(fast.p_sim - audit.p_sim).mean() < 0.05
    assert np.corrcoef(fast.p_sim, audit.p_sim)[0, 1] > 0.97


def test_two_sided_and_folded_p_from_counts():
    larger = np.array([0, 1, 499, 500, 998, 999, -1])
    np.testing.assert_allclose(folded_p(larger[:-1], 999),
                               np.array([1, 2, 500, 500, 2, 1]) / 1000)
    p = two_sided_p(larger, 999)
    np.testing.assert_allclose(p[:-1], [0.002, 0.004, 1.0, 1.0, 0.004, 0.002])
    assert np.isnan(p[-1])


def test_global_moran_permutations_reproduce_esda(kna_graph):
    """Same RNG stream -> same count; our default Generator -> close p."""
    y = poisson_counts(kna_graph.n, 9, mean=1.0)
    w = to_libpysal(kna_graph, "r")
    seed, perms = 31, 199
    np.random.seed(seed)
    e = esda.Moran(y, w, permutations=perms)
    weights = _weights_matrix(kna_graph, "r", star=False)
    z = y - y.mean()
    larger = moran_permutation_counts(z, weights, weights.sum(), e.I, perms,
                                      np.random.RandomState(seed))
    assert folded_p(np.array([larger]), perms)[0] == pytest.approx(e.p_sim, abs=1e-15)
    ours = moran_global(y, kna_graph, seed=seed, permutations=perms)
    assert ours.I == pytest.approx(e.I, abs=1e-12)
    assert ours.p_sim_folded == pytest.approx(e.p_sim, abs=0.1)
    assert ours.p_sim == min(1.0, 2 * ours.p_sim_folded)


def test_global_moran_p_close_to_esda_on_autocorrelated_data(kna_graph):
    cells_lat = np.arange(kna_graph.n) / kna_graph.n  # cell order follows space loosely
    y = np.random.default_rng(12).poisson(1 + 0.3 * cells_lat)
    w = to_libpysal(kna_graph, "r")
    for seed in (1, 2):
        np.random.seed(seed)
        e = esda.Moran(y, w, permutations=999)
        ours = moran_global(y, kna_graph, seed=seed, permutations=999)
        # both are estimates of the same p from 999 draws
        sd = np.sqrt(max(e.p_sim, 0.001) * (1 - e.p_sim) / 999)
        assert abs(ours.p_sim_folded - e.p_sim) <= 4 * sd + 0.002
