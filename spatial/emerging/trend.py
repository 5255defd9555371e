"""The Mann-Kendall trend test on every cell's series at once.

For a series ``x_1 … x_n`` (a cell's Gi* z-scores, oldest first),
``S = sum_{i<j} sign(x_j - x_i)``. Under "no trend" S has mean 0 and, with
groups of tied values of sizes ``t_g``,

    Var(S) = [n (n - 1) (2n + 5) - sum_g t_g (t_g - 1) (2 t_g + 5)] / 18

(Kendall 1975; the form of R's ``Kendall::MannKendall``, used by sfdep, and of
``pymannkendall.original_test``). ``z = (S - sign(S)) / sqrt(Var S)`` (the
continuity correction), and p is two-sided normal. ``tau`` is Kendall's tau-b
of the series against time, ``S / sqrt((N0 - N1) N0)`` with ``N0 = n (n - 1) / 2``
and ``N1 = sum_g t_g (t_g - 1) / 2``: the value R's ``Kendall`` and scipy's
``kendalltau`` report (its sign is the sign of S).

Missing values (NaN: a step where the cell had no neighbour at all) are left
out of the cell's series; ``n`` is then the cell's own number of values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend of each row of a (cells, steps) array.

    Attributes
    ----------
    s : numpy.ndarray of int64
        Kendall's S (positive: rising).
    variance : numpy.ndarray
        Var(S) with the correction for ties.
    z, p : numpy.ndarray
        Continuity-corrected z and two-sided p (NaN when Var(S) is 0: fewer
        than two distinct values).
    tau : numpy.ndarray
        Kendall's tau-b against time.
    n : numpy.ndarray of int64
        Values used per row (NaN left out).
    """

    s: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray
    n: np.ndarray


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Mann-Kendall test of every row of ``series`` (rows: cells; columns: steps, oldest first)."""
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("series must be a (cells, steps) array")
    cells, steps = x.shape
    finite = np.isfinite(x)
    s = np.zeros(cells, dtype=np.int64)
    ties = np.zeros(cells, dtype=np.float64)   # sum over values of (t - 1)(2t + 5), t the size of its tie group
    tied_pairs = np.zeros(cells, dtype=np.float64)
    for j in range(steps):
        later = x[:, j + 1:] - x[:, [j]]
        # NaN differences give sign NaN: they count as neither rise nor fall
        s += np.nan_to_num(np.sign(later)).astype(np.int64).sum(axis=1)
        group = ((x == x[:, [j]]) & finite).sum(axis=1)  # size of x_j's tie group (0 when x_j is NaN)
        ties += np.where(finite[:, j], (group - 1) * (2 * group + 5), 0)
        # each tied pair is seen once from each end: half of (group - 1) per member
        tied_pairs += np.where(finite[:, j], (group - 1) / 2.0, 0.0)
    n = finite.sum(axis=1).astype(np.int64)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), np.nan)
        p = 2.0 * sps.norm.sf(np.abs(z))
        pairs = n * (n - 1) / 2.0
        tau = np.where(variance > 0, s / np.sqrt((pairs - tied_pairs) * pairs), np.nan)
    return MannKendall(s=s, variance=variance, z=z, p=p, tau=tau, n=n)
