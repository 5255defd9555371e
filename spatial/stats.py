"""Hot-spot statistics on arrays: Gi*, Moran's I, local Moran, FDR, classes.

Every function takes per-cell values ``y`` (aligned with the grid) and a
:class:`spatial.weights.NeighbourGraph`; weights are uniform within a row
(binary, or row-standardised from binary), which is what H3 neighbours give.
Analytic values follow esda 2.9 formula for formula (the tests compare to
1e-9); local permutation inference is esda's conditional randomisation,
computed by the fast engine in :mod:`spatial.permutation` (default draws
from a ``numpy.random.Generator``; ``draws='esda'`` reproduces esda's draws
and hence esda's pseudo p-values exactly).

p-values
--------
esda's local pseudo p-values are *folded one-sided*: ``(min(larger, P -
larger) + 1) / (P + 1)``, about half a two-sided value. We report two-sided
values, ``p_sim = min(1, 2 * folded)``, and say so in ``p_sim_kind``; the
folded value is kept as ``p_sim_folded`` for comparison with esda. Analytic
``p_norm`` values are two-sided too (esda's local ``p_norm`` is one-sided).

Islands
-------
Cells with no neighbour get NaN statistics, z, and p ("No neighbours"),
never a fabricated value; they still count in the global mean and variance.

esda pitfall
------------
esda 2.9's ``crand`` casts the neighbour weights to the dtype of ``y``; with
integer counts and ``transform='R'`` every weight 1/(k+1) becomes 0 and
``G_Local(...).p_sim`` is meaningless (0.01 everywhere at 99 permutations).
Pass float counts to esda. Our functions always work in float64.

Seeds
-----
Every permutation function needs an explicit integer ``seed``; it is
recorded in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy import stats as sps

from spatial.moran_permutation import TIE_RULE, moran_tied_counts
from spatial.permutation import (
    count_in_range,
    folded_p,
    lag_interval_reaching,
    permutation_draws,
    two_sided_p,
)
from spatial.significance import (  # noqa: F401 -- part of this module's API
    LISA_LABELS,
    NO_NEIGHBOURS,
    NOT_SIGNIFICANT,
    fdr_bh,
    gi_bin,
    lisa_label,
)
from spatial.weights import NeighbourGraph

P_SIM_KIND = "two-sided"



# --------------------------------------------------------------------------
# weights helpers
# --------------------------------------------------------------------------


def _row_weight(graph: NeighbourGraph, transform: str, star: bool) -> np.ndarray:
    """The single weight value of each row (uniform within a row)."""
    t = transform.lower()
    if t == "b":
        return np.ones(graph.n)
    if t != "r":
        raise ValueError(f"transform must be 'b' or 'r', got {transform!r}")
    denominator = graph.cardinalities + (1 if star else 0)
    with np.errstate(divide="ignore"):
        return np.where(denominator > 0, 1.0 / np.maximum(denominator, 1), 0.0)


def _weights_matrix(graph: NeighbourGraph, transform: str, star: bool) -> sparse.csr_matrix:
    """CSR weights, rows sorted by column, self-weight on the diagonal if ``star``."""
    m = graph.to_sparse(self_weight=1.0 if star else 0.0)
    row_w = _row_weight(graph, transform, star)
    m.data = row_w[np.repeat(np.arange(graph.n), np.diff(m.indptr))]
    return m


def _check_inputs(y, graph: NeighbourGraph) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(y) != graph.n:
        raise ValueError(f"y has {len(y)} values but the graph has {graph.n} cells")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (use 0 for cells with no incidents)")
    return y


def _draws_for(graph: NeighbourGraph, permutations: int, seed: int, draws: str) -> np.ndarray:
    max_card = int(graph.cardinalities.max()) if graph.n else 0
    return permutation_draws(graph.n, max(max_card, 1), permutations, seed, method=draws)


def _two_sided_norm(z: np.ndarray) -> np.ndarray:
    return 2.0 * sps.norm.sf(np.abs(z))


# --------------------------------------------------------------------------
# Getis-Ord Gi*
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class GiStarResult:
    """Getis-Ord Gi* per cell.

    Attributes
    ----------
    g, expected, variance, z : numpy.ndarray
        Gi* statistic, its expectation and variance under normality, and
        the standardised z (esda's ``Gs``, ``EGs``, ``VGs``, ``Zs``).
    p_norm : numpy.ndarray
        Two-sided analytic p from ``z``.
    p_sim : numpy.ndarray
        Two-sided permutation pseudo p (``p_sim_kind``), NaN if not run.
    p_sim_folded : numpy.ndarray
        esda's folded one-sided pseudo p from the same counts.
    larger : numpy.ndarray of int64
        Permutations with Gi* >= observed (-1 for islands).
    island : numpy.ndarray of bool
        Cells with no neighbour (all outputs NaN).
    """

    g: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p_norm: np.ndarray
    p_sim: np.ndarray
    p_sim_folded: np.ndarray
    larger: np.ndarray
    island: np.ndarray
    permutations: int
    seed: int | None
    transform: str
    draws_method: str
    p_sim_kind: str = field(default=P_SIM_KIND)


def gi_star_analytic(y: np.ndarray, graph: NeighbourGraph, transform: str = "b"):
    """Gi*, its expectation, variance and z as esda ``G_Local(star=True)``.

    Returns
    -------
    g, expected, variance, z : numpy.ndarray
        Islands are included here (esda's values); callers mask them.
    """
    y = _check_inputs(y, graph)
    n = graph.n
    weights = _weights_matrix(graph, transform, star=True)
    g = (weights @ y) / y.sum()
    mean = y.sum() / n
    variance_y = (y**2).sum() / n - mean**2
    row_total = np.asarray(weights.sum(axis=1)).ravel()
    expected = row_total / n
    variance = row_total * (n - row_total)
    variance /= n - 1
    variance *= 1 / n**2
    variance *= variance_y / mean**2
    z = (g - expected) / np.sqrt(variance)
    return g, expected, variance, z


def _gi_star_larger(y, g, graph, transform, draws):
    """esda's ``larger`` for Gi*: permutations with Gi* >= observed."""
    self_weight = _row_weight(graph, transform, star=True)
    total = y.sum()

    def statistic(lag, cells):  # esda's _g_local_star_crand, elementwise
        return (lag + self_weight[cells] * y[cells]) / total

    lower, upper = lag_interval_reaching(statistic, g, np.ones(graph.n, dtype=np.int64))
    return count_in_range(y, graph.cardinalities, self_weight, draws, lower, upper)


def gi_star(
    y,
    graph: NeighbourGraph,
    *,
    seed: int,
    permutations: int = 999,
    transform: str = "b",
    draws: str = "fast",
) -> GiStarResult:
    """Getis-Ord Gi* hot-spot statistic with conditional permutation inference.

    Parameters
    ----------
    y : array_like, shape (n,)
        Incident count (or rate) per cell, zeros included; sum must be > 0.
    graph : NeighbourGraph
        Neighbours; the cell itself is always included (Gi*, "star").
    seed : int
        Seed for the permutation draws (recorded in the result).
    permutations : int
        Number of conditional permutations; 0 skips them.
    transform : {'b', 'r'}
        Binary weights (Esri's default, and ours) or row-standardised
        (each of the k neighbours and the cell itself weigh 1/(k+1)), as
        esda's ``G_Local(star=True, transform=...)``.
    draws : {'fast', 'esda'}
        'fast' (default) samples the shared draws with a
        ``numpy.random.Generator``; 'esda' reproduces esda's draws for the
        same seed, so the pseudo p-values equal esda's exactly (an audit
        mode: the legacy shuffle costs ~0.6 s at 68,000 cells). Both are
        the same conditional-randomisation test; the method is recorded in
        the result (see :func:`spatial.permutation.permutation_draws`).

    Returns
    -------
    GiStarResult
    """
    y = _check_inputs(y, graph)
    if y.sum() <= 0:
        raise ValueError("Gi* needs a positive total (no incidents in this grid?)")
    g, expected, variance, z = gi_star_analytic(y, graph, transform)
    island = graph.cardinalities == 0
    larger = np.full(graph.n, -1, dtype=np.int64)
    if permutations:
        shared = _draws_for(graph, permutations, seed, draws)
        larger = _gi_star_larger(y, g, graph, transform, shared)
    def nan_islands(values):
        return np.where(island, np.nan, values)

    return GiStarResult(
        g=nan_islands(g),
        expected=nan_islands(expected),
        variance=nan_islands(variance),
        z=nan_islands(z),
        p_norm=nan_islands(_two_sided_norm(z)),
        p_sim=_pseudo_p(larger, permutations, two_sided=True),
        p_sim_folded=_pseudo_p(larger, permutations, two_sided=False),
        larger=larger,
        island=island,
        permutations=permutations,
        seed=seed,
        transform=transform.lower(),
        draws_method=draws,
    )


def _pseudo_p(larger: np.ndarray, permutations: int, two_sided: bool) -> np.ndarray:
    if not permutations:
        return np.full(len(larger), np.nan)
    if two_sided:
        return two_sided_p(larger, permutations)
    return np.where(larger < 0, np.nan, folded_p(larger, permutations))


# --------------------------------------------------------------------------
# Global Moran's I
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MoranResult:
    """Global Moran's I with row-standardised weights.

    ``p_norm`` / ``p_rand`` are two-sided analytic p under normality /
    randomisation; ``p_sim`` is the two-sided permutation pseudo p,
    ``min(1, 2 * p_sim_folded)`` with ``p_sim_folded = (min(larger, smaller)
    + 1) / (permutations + 1)``. ``larger`` / ``smaller`` count the
    relabellings at least as extreme upwards / downwards, under ``tie_rule``
    (default: a tie counts in both; ``draws='esda'``: esda's rule).
    """

    I: float  # noqa: E741 -- the statistic's conventional name
    expected: float
    variance_norm: float
    z_norm: float
    p_norm: float
    variance_rand: float
    z_rand: float
    p_rand: float
    p_sim: float
    p_sim_folded: float
    larger: int
    permutations: int
    seed: int | None
    p_sim_kind: str = field(default=P_SIM_KIND)
    smaller: int = -1
    draws_method: str = "fast"
    tie_rule: str = TIE_RULE


ESDA_TIE_RULE = ("esda's: larger = #(I_perm >= I_obs) in floating point, smaller = permutations - larger "
                 "(a tie counts on the upper side only)")


def _moran_constants(weights: sparse.csr_matrix) -> tuple[float, float, float]:
    """s0, s1, s2 of a weights matrix (Cliff and Ord)."""
    s0 = float(weights.sum())
    symmetric = weights + weights.T
    s1 = float(symmetric.multiply(symmetric).sum()) / 2.0
    row_col = np.asarray(weights.sum(axis=1)).ravel() + np.asarray(weights.sum(axis=0)).ravel()
    s2 = float((row_col**2).sum())
    return s0, s1, s2


def _moran_variances(z: np.ndarray, s0: float, s1: float, s2: float):
    """Variance of I under normality and under randomisation (esda's forms)."""
    n = len(z)
    n2, s02 = n * n, s0 * s0
    expected = -1.0 / (n - 1)
    v_norm = (n2 * s1 - n * s2 + 3 * s02) / ((n - 1) * (n + 1) * s02) - expected**2
    z2 = z * z  # (z * z) ** 2, not z ** 4: pow is ten times slower at 68,000 cells
    kurtosis = ((z2 * z2).sum() / n) / (z2.sum() / n) ** 2
    a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02)
    b = kurtosis * ((n2 - n) * s1 - 2 * n * s2 + 6 * s02)
    v_rand = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s02) - expected**2
    return expected, v_norm, v_rand


def moran_permutation_counts(z, weights, s0, observed, permutations, rng, chunk=64):
    """esda's count: how many of ``permutations`` relabellings give I >= ``observed``.

    The reference (slow) path, kept to reproduce esda exactly: with a legacy
    ``RandomState``, its ``permutation(z)`` calls are esda ``Moran``'s draws
    (esda uses the global state) and the comparison is esda's floating-point
    ``>=``. With a ``numpy.random.Generator`` one buffer is shuffled in place
    again and again. :func:`moran_global` uses the fast
    :func:`spatial.moran_permutation.moran_tied_counts` unless asked for
    ``draws='esda'``.
    """
    z2ss = (z * z).sum()
    n = len(z)
    buffer = z.copy()
    in_place = isinstance(rng, np.random.Generator)
    larger = 0
    for start in range(0, permutations, chunk):
        m = min(chunk, permutations - start)
        shuffled = np.empty((m, n))
        for row in range(m):
            if in_place:
                rng.shuffle(buffer)
                shuffled[row] = buffer
            else:
                shuffled[row] = rng.permutation(z)
        lagged = weights @ np.ascontiguousarray(shuffled.T)  # (n, m)
        sims = n / s0 * (shuffled.T * lagged).sum(axis=0) / z2ss
        larger += int((sims >= observed).sum())
    return larger


def _moran_p(larger: int, smaller: int, permutations: int) -> tuple[float, float]:
    """Two-sided and folded one-sided pseudo p from the counts either way."""
    if not permutations:
        return float("nan"), float("nan")
    folded = (min(larger, smaller) + 1) / (permutations + 1)
    return min(1.0, 2.0 * folded), folded


def moran_global(y, graph: NeighbourGraph, *, seed: int, permutations: int = 999,
                 draws: str = "fast") -> MoranResult:
    """Global Moran's I, row-standardised weights (esda ``Moran`` default 'r').

    Parameters
    ----------
    y : array_like, shape (n,)
    graph : NeighbourGraph
    seed : int
        Seed of the permutations (recorded in the result).
    permutations : int
        Number of uniformly random relabellings; 0 skips them.
    draws : {'fast', 'esda'}
        'fast' (default): :func:`spatial.moran_permutation.moran_tied_counts`,
        a ``numpy.random.Generator`` and ties counted as at least as extreme
        both ways (exact on counts). 'esda': esda ``Moran``'s own draws
        (``np.random.seed(seed)``) and counting, so ``p_sim_folded`` equals
        esda's ``p_sim`` exactly (slow; an audit mode).

    Returns
    -------
    MoranResult
    """
    if draws not in ("fast", "esda"):
        raise ValueError(f"draws must be 'fast' or 'esda', got {draws!r}")
    y = _check_inputs(y, graph)
    weights = _weights_matrix(graph, "r", star=False)
    z = y - y.mean()
    s0, s1, s2 = _moran_constants(weights)
    observed = len(y) / s0 * (z * (weights @ z)).sum() / (z * z).sum()
    expected, v_norm, v_rand = _moran_variances(z, s0, s1, s2)
    z_norm = (observed - expected) / np.sqrt(v_norm)
    z_rand = (observed - expected) / np.sqrt(v_rand)
    larger = smaller = -1
    tie_rule = TIE_RULE
    if permutations and draws == "esda":
        larger = moran_permutation_counts(z, weights, s0, observed, permutations,
                                          np.random.RandomState(seed))
        smaller, tie_rule = permutations - larger, ESDA_TIE_RULE
    elif permutations:
        counts = moran_tied_counts(y, graph, permutations=permutations, seed=seed)
        larger, smaller = counts.larger, counts.smaller
    p_sim, p_folded = _moran_p(larger, smaller, permutations)
    return MoranResult(
        I=float(observed),
        expected=expected,
        variance_norm=float(v_norm),
        z_norm=float(z_norm),
        p_norm=float(_two_sided_norm(z_norm)),
        variance_rand=float(v_rand),
        z_rand=float(z_rand),
        p_rand=float(_two_sided_norm(z_rand)),
        p_sim=p_sim,
        p_sim_folded=p_folded,
        larger=larger,
        permutations=permutations,
        seed=seed,
        smaller=smaller,
        draws_method=draws,
        tie_rule=tie_rule,
    )


# --------------------------------------------------------------------------
# Local Moran (LISA)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalMoranResult:
    """Local Moran's I per cell (row-standardised weights).

    Attributes
    ----------
    I : numpy.ndarray
        Local statistic (esda's ``Is``); NaN for islands.
    quadrant : numpy.ndarray of int
        1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low (esda's ``q``);
        0 for islands.
    p_sim, p_sim_folded, larger, island
        As in :class:`GiStarResult`.
    """

    I: np.ndarray  # noqa: E741
    quadrant: np.ndarray
    p_sim: np.ndarray
    p_sim_folded: np.ndarray
    larger: np.ndarray
    island: np.ndarray
    permutations: int
    seed: int | None
    draws_method: str
    p_sim_kind: str = field(default=P_SIM_KIND)


def local_moran_analytic(y, graph: NeighbourGraph):
    """Standardised values, spatial lag, I_i and quadrant as esda ``Moran_Local``."""
    y = _check_inputs(y, graph)
    z = y - y.mean()
    z /= y.std()
    lag = _weights_matrix(graph, "r", star=False) @ z
    local_i = (graph.n - 1) * z * lag / (z * z).sum()
    high, high_lag = z > 0, lag > 0
    quadrant = np.select(
        [high & high_lag, ~high & high_lag, ~high & ~high_lag, high & ~high_lag], [1, 2, 3, 4]
    )
    return z, lag, local_i, quadrant


def _local_moran_larger(z, local_i, graph, draws):
    """esda's ``larger`` for local Moran: permutations with I_i >= observed.

    ``I_i = z_i * lag * scaling`` rises with the lag when ``z_i > 0``, falls
    when ``z_i < 0`` and is 0 whatever the lag when ``z_i == 0``.
    """
    scaling = (graph.n - 1) / (z * z).sum()
    cardinalities = graph.cardinalities
    weight = np.where(cardinalities > 0, 1.0 / np.maximum(cardinalities, 1), 0.0)

    def statistic(lag, cells):  # esda's _moran_local_crand, elementwise
        zi = z[cells]
        return zi * (lag + 0.0 * zi) * scaling

    direction = np.sign(z).astype(np.int64)
    lower, upper = lag_interval_reaching(statistic, local_i, direction)
    return count_in_range(z, cardinalities, weight, draws, lower, upper)


def local_moran(
    y, graph: NeighbourGraph, *, seed: int, permutations: int = 999, draws: str = "fast"
) -> LocalMoranResult:
    """Local Moran's I (LISA) with two-sided conditional permutation p.

    Parameters
    ----------
    y : array_like, shape (n,)
    graph : NeighbourGraph
    seed : int
        Seed for the shared permutation draws (recorded).
    permutations : int
    draws : {'esda', 'fast'}
        As in :func:`gi_star`.

    Returns
    -------
    LocalMoranResult
    """
    y = _check_inputs(y, graph)
    if y.std() == 0:
        raise ValueError("local Moran needs values that vary between cells")
    z, _, local_i, quadrant = local_moran_analytic(y, graph)
    island = graph.cardinalities == 0
    larger = np.full(graph.n, -1, dtype=np.int64)
    if permutations:
        shared = _draws_for(graph, permutations, seed, draws)
        larger = _local_moran_larger(z, local_i, graph, shared)
    return LocalMoranResult(
        I=np.where(island, np.nan, local_i),
        quadrant=np.where(island, 0, quadrant),
        p_sim=_pseudo_p(larger, permutations, two_sided=True),
        p_sim_folded=_pseudo_p(larger, permutations, two_sided=False),
        larger=larger,
        island=island,
        permutations=permutations,
        seed=seed,
        draws_method=draws,
    )
