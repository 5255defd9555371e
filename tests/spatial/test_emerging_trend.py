"""Mann-Kendall on every cell at once, against independent implementations.

S, Var(S) (tie-corrected), z and p against ``pymannkendall.original_test``;
tau-b against ``scipy.stats.kendalltau`` (series against time). Seeds are
fixed; tolerance 1e-12 (S exactly).
"""

import numpy as np
import pymannkendall
import pytest
from scipy import stats as sps

from spatial.emerging.trend import mann_kendall


def series_with_ties(seed: int, cells: int = 200, steps: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(cells, steps)).astype(np.float64)  # few values: many ties
    x[: cells // 2] += np.arange(steps) * rng.uniform(0, 0.3, size=(cells // 2, 1))  # some trends
    return x


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_against_pymannkendall(seed):
    x = series_with_ties(seed)
    ours = mann_kendall(x)
    for row in range(len(x)):
        reference = pymannkendall.original_test(x[row])
        assert ours.s[row] == reference.s
        assert ours.variance[row] == pytest.approx(reference.var_s, abs=1e-9)
        assert ours.z[row] == pytest.approx(reference.z, abs=1e-12)
        assert ours.p[row] == pytest.approx(reference.p, abs=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_tau_b_against_scipy(seed):
    x = series_with_ties(seed, steps=12)
    ours = mann_kendall(x)
    for row in range(len(x)):
        tau = sps.kendalltau(np.arange(x.shape[1]), x[row]).statistic
        assert ours.tau[row] == pytest.approx(tau, abs=1e-12)


def test_continuous_series_and_direction():
    rng = np.random.default_rng(9)
    rising = np.arange(15.0) + rng.normal(0, 0.5, 15)
    out = mann_kendall(np.vstack([rising, rising[::-1]]))
    assert out.s[0] > 0 > out.s[1] and out.s[0] == -out.s[1]
    assert out.p[0] < 0.001 and out.p[0] == pytest.approx(out.p[1])


def test_missing_steps_are_left_out():
    x = series_with_ties(6, cells=20, steps=14)
    with_gap = x.copy()
    with_gap[:, 0] = np.nan
    with_gap[:, 5] = np.nan
    ours = mann_kendall(with_gap)
    for row in range(len(x)):
        reference = pymannkendall.original_test(np.delete(x[row], [0, 5]))
        assert ours.n[row] == 12
        assert ours.s[row] == reference.s
        assert ours.p[row] == pytest.approx(reference.p, abs=1e-12)


def test_a_flat_series_has_no_test():
    out = mann_kendall(np.ones((2, 10)))
    assert out.s.tolist() == [0, 0]
    assert np.isnan(out.p).all() and np.isnan(out.tau).all()
