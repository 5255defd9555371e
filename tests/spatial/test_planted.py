"""Behaviour on synthetic fields: a planted cluster is found, noise is not.

Grid: the H3 res-9 disk of radius 30 around a St Kitts cell (2,791 cells),
k=1 binary weights for Gi*, row-standardised for local Moran. Classes use
FDR-adjusted analytic p (as Esri's Gi_Bin with FDR correction): with 999
permutations the smallest two-sided pseudo p is 0.002, which Benjamini-
Hochberg over ~2,800 cells can never pass for a small cluster.
"""

import h3
import numpy as np
import pytest
from scipy.stats import false_discovery_control

from spatial.stats import fdr_bh, gi_bin, gi_star, lisa_label, local_moran
from spatial.weights import h3_neighbours

CENTRE = h3.latlng_to_cell(17.30, -62.75, 9)


@pytest.fixture(scope="module")
def disk():
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 30)), dtype=np.int64)
    return cells, h3_neighbours(cells)


def planted_field(cells, seed):
    """Poisson(0.5) everywhere, Poisson(6) within 2 rings of a cell 10 rings out."""
    rng = np.random.default_rng(seed)
    y = rng.poisson(0.5, len(cells)).astype(float)
    hot_centre = h3.str_to_int(h3.grid_ring(CENTRE, 10)[0])
    hot = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(hot_centre), 2)}
    in_cluster = np.isin(cells, list(hot))
    y[in_cluster] = rng.poisson(6.0, in_cluster.sum())
    return y, in_cluster, int(np.flatnonzero(cells == hot_centre)[0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_cluster_is_a_99_percent_hot_spot(disk, seed):
    cells, graph = disk
    y, in_cluster, centre = planted_field(cells, seed)
    result = gi_star(y, graph, seed=seed, permutations=999)
    bins = gi_bin(result.z, fdr_bh(result.p_norm))
    assert bins[centre] == 3
    assert (bins[in_cluster] == 3).mean() >= 0.5
    assert (bins[~in_cluster] == 3).mean() < 0.01
    # the permutation test agrees that the centre is extreme
    assert result.p_sim[centre] == pytest.approx(2 / 1000)


def test_planted_cluster_is_high_high(disk):
    cells, graph = disk
    y, in_cluster, centre = planted_field(cells, 4)
    result = local_moran(y, graph, seed=4, permutations=999)
    labels = lisa_label(result.quadrant, result.p_sim, alpha=0.05)
    assert labels[centre] == "High-High"
    assert (labels[in_cluster] == "High-High").mean() >= 0.5


@pytest.mark.parametrize("seed", range(10, 16))
def test_spatially_random_field_has_few_fdr_hot_spots(disk, seed):
    cells, graph = disk
    y = np.random.default_rng(seed).poisson(3.0, len(cells)).astype(float)
    result = gi_star(y, graph, seed=seed, permutations=999)
    bins = gi_bin(result.z, fdr_bh(result.p_norm))
    # Under the null BH at 5% rarely flags anything; when it errs, a few cells.
    assert (np.abs(bins) >= 2).sum() <= 5
    # and permutation p (two-sided) is close to uniform: ~5% below 0.05
    assert 0.03 < (result.p_sim < 0.05).mean() < 0.075


def test_fdr_bh_matches_scipy_and_ignores_nan():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(0, 0.001, 20)])
    np.testing.assert_allclose(fdr_bh(p), false_discovery_control(p, method="bh"), atol=1e-15)
    with_nan = p.copy()
    with_nan[[3, 50]] = np.nan
    adjusted = fdr_bh(with_nan)
    assert np.isnan(adjusted[[3, 50]]).all()
    keep = ~np.isnan(with_nan)
    np.testing.assert_allclose(adjusted[keep], false_discovery_control(p[keep]), atol=1e-15)
    np.testing.assert_array_equal(fdr_bh(p, alpha=0.05), fdr_bh(p) <= 0.05)


def test_gi_bin_follows_esri_convention():
    z = np.array([3.0, 2.5, 1.8, 0.5, -3.0, -2.2, -1.7, 4.0, np.nan])
    p = np.array([0.001, 0.03, 0.08, 0.5, 0.005, 0.049, 0.099, 0.10, np.nan])
    np.testing.assert_array_equal(gi_bin(z, p), [3, 2, 1, 0, -3, -2, -1, 0, 0])
    np.testing.assert_array_equal(gi_bin(z, p, alpha=0.05), [3, 2, 0, 0, -3, -2, 0, 0, 0])


def test_lisa_labels():
    q = np.array([1, 2, 3, 4, 1, 0])
    p = np.array([0.01, 0.02, 0.03, 0.04, 0.2, np.nan])
    assert lisa_label(q, p).tolist() == [
        "High-High", "Low-High", "Low-Low", "High-Low", "Not significant", "No neighbours"]
