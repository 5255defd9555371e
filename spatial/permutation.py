"""Fast conditional-permutation counts, identical to esda's ``crand``.

esda's conditional randomisation draws ONE table of permutation indices,
``draws`` with shape ``(permutations, max_card)``, shared by every cell. For
cell ``i`` with ``k`` neighbours, permutation ``p`` takes as "neighbours" the
values ``y_wo_i[draws[p, :k]]``, where ``y_wo_i`` is ``y`` with element ``i``
removed, so index ``r`` means ``y[r]`` when ``r < i`` and ``y[r + 1]`` when
``r >= i``. esda gathers those values for every cell (n x permutations x k
reads plus an n-long copy per cell). We do not.

How the engine works
--------------------
For cells of one cardinality ``k``, the permuted neighbour sum is::

    S_i[p] = sum_j y[r_pj + 1]  +  sum_{j : r_pj < i} (y[r_pj] - y[r_pj + 1])

so as ``i`` sweeps upward, ``S_i[p]`` changes only when ``i`` passes one of
the ``k`` draws of permutation ``p``. We scatter those few changes into a
(cells x permutations) table and take a cumulative sum down the cells, in
chunks. No per-cell gather, no per-cell copy of ``y``.

Gi* and local Moran are, for a fixed cell and weights that are uniform
within a row (binary or row-standardised H3 weights), monotone functions of
the permuted neighbour sum: increasing for Gi* (when ``sum(y) > 0``), and
for local Moran increasing when ``z_i > 0`` and decreasing when ``z_i < 0``
(``I_i = z_i * w * (sum of z) * scaling``). So "permuted statistic >=
observed statistic" is decided by comparing sums, except when the sums are
equal. Ties are common in crime counts (many zero cells), and for them
esda's answer depends on floating-point rounding, so pairs within a tiny
tolerance are handed to a *tie resolver* that recomputes esda's exact
floating-point expression for just those pairs. With integer counts and
binary Gi*, esda's arithmetic is exact and ties always count as ">=", so no
resolver is needed.

The counts (``larger``: permutations with statistic >= observed) are
identical to esda's for the same draws; the tests check this.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: A tie resolver gets (cells, perms, k) for pairs whose permuted neighbour
#: sum equals the observed one (within tolerance) and returns, per pair,
#: whether the permuted statistic is >= the observed one, computed exactly
#: as esda computes it.
TieResolver = Callable[[np.ndarray, np.ndarray, int], np.ndarray]

_CHUNK_ELEMENTS = 4_000_000  # cells x permutations per chunk (~32 MB float64)


def permutation_draws(
    n: int, max_card: int, permutations: int, seed: int, method: str = "esda"
) -> np.ndarray:
    """Shared permutation indices for conditional randomisation.

    Parameters
    ----------
    n : int
        Number of cells; indices are drawn from ``range(n - 1)``.
    max_card : int
        Largest number of neighbours of any cell (columns drawn).
    permutations : int
        Number of permutations (rows).
    seed : int
        Seed, required.
    method : {'esda', 'fast'}
        ``'esda'`` reproduces esda's ``vec_permutations`` exactly (without
        numba: ``np.random.seed(seed)`` then ``np.random.choice(n - 1,
        max_card, replace=False)`` per row, i.e. the first ``max_card``
        entries of a legacy ``RandomState`` permutation), at the cost of a
        full shuffle of ``n - 1`` items per row. ``'fast'`` draws the same
        kind of sample (distinct indices, uniformly at random) from a
        ``numpy.random.Generator``, which is ~100x cheaper but not
        esda-identical. This function never touches numpy's global state.

    Returns
    -------
    numpy.ndarray of int64, shape (permutations, max_card)
    """
    if seed is None:
        raise ValueError("an explicit integer seed is required")
    if max_card > n - 1:
        raise ValueError(f"max_card={max_card} exceeds n - 1 = {n - 1}")
    out = np.empty((permutations, max_card), dtype=np.int64)
    if method == "esda":
        state = np.random.RandomState(seed)
        for p in range(permutations):
            out[p] = state.choice(n - 1, size=max_card, replace=False)
    elif method == "fast":
        rng = np.random.default_rng(seed)
        for p in range(permutations):
            out[p] = rng.choice(n - 1, size=max_card, replace=False)
    else:
        raise ValueError(f"method must be 'esda' or 'fast', got {method!r}")
    return out


def _sum_tolerance(y: np.ndarray, k: int) -> float:
    """Band within which two neighbour sums count as a possible tie.

    esda's float error on a k-term sum is a few ulps of ``k * max|y|``;
    1e-9 of that is far above those ulps and far below any real gap for
    count data (gaps >= 1).
    """
    scale = float(np.max(np.abs(y))) if len(y) else 0.0
    return 1e-9 * k * scale


def _group_sums_compare(
    y: np.ndarray,
    group: np.ndarray,
    observed_sums: np.ndarray,
    draws_k: np.ndarray,
    tol: float,
):
    """Compare permuted neighbour sums with observed ones for one cardinality.

    Parameters
    ----------
    y : numpy.ndarray of float64, shape (n,)
    group : numpy.ndarray of int64
        Sorted positions of the cells that have ``k`` neighbours.
    observed_sums : numpy.ndarray, shape (len(group),)
        Observed (unweighted) neighbour sums of those cells.
    draws_k : numpy.ndarray, shape (permutations, k)
        First ``k`` columns of the shared draws.
    tol : float

    Returns
    -------
    above, below : numpy.ndarray of int64
        Per cell, permutations whose sum exceeds / falls short of the
        observed sum by more than ``tol``.
    tie_cells, tie_perms : numpy.ndarray of int64
        Group-local cell index and permutation of the remaining pairs.
    """
    n_perm, k = draws_k.shape
    n_cells = len(group)
    base = y[draws_k + 1].sum(axis=1)  # S when no draw lies below i
    delta = (y[draws_k] - y[draws_k + 1]).ravel()
    # draw r flips from y[r+1] to y[r] for cells i > r
    first_cell = np.searchsorted(group, draws_k, side="right").ravel()
    perm_of = np.repeat(np.arange(n_perm), k)
    order = np.argsort(first_cell, kind="stable")
    first_cell, delta, perm_of = first_cell[order], delta[order], perm_of[order]

    above = np.empty(n_cells, dtype=np.int64)
    below = np.empty(n_cells, dtype=np.int64)
    tie_cells, tie_perms = [], []
    chunk = max(1, _CHUNK_ELEMENTS // max(n_perm, 1))
    running = base.copy()
    for start in range(0, n_cells, chunk):
        stop = min(start + chunk, n_cells)
        lo, hi = np.searchsorted(first_cell, [start, stop])
        flat = (first_cell[lo:hi] - start) * n_perm + perm_of[lo:hi]
        steps = np.bincount(flat, weights=delta[lo:hi], minlength=(stop - start) * n_perm)
        sums = np.cumsum(steps.reshape(stop - start, n_perm), axis=0)
        sums += running
        running = sums[-1].copy()
        sums -= observed_sums[start:stop, None]
        is_above = sums > tol
        is_below = sums < -tol
        above[start:stop] = is_above.sum(axis=1)
        below[start:stop] = is_below.sum(axis=1)
        tie = ~(is_above | is_below)
        rows, cols = np.nonzero(tie)
        tie_cells.append(rows + start)
        tie_perms.append(cols)
    return (
        above,
        below,
        np.concatenate(tie_cells) if tie_cells else np.empty(0, np.int64),
        np.concatenate(tie_perms) if tie_perms else np.empty(0, np.int64),
    )


def count_larger(
    y: np.ndarray,
    cardinalities: np.ndarray,
    observed_sums: np.ndarray,
    direction: np.ndarray,
    draws: np.ndarray,
    tie_resolver: TieResolver | None = None,
) -> np.ndarray:
    """Per cell, how many permuted statistics are >= the observed one.

    Parameters
    ----------
    y : numpy.ndarray, shape (n,)
        The values that are permuted (counts for Gi*, z-values or counts
        for local Moran: any affine image gives the same order).
    cardinalities : numpy.ndarray of int, shape (n,)
        Neighbours per cell (self excluded).
    observed_sums : numpy.ndarray, shape (n,)
        Observed sum of ``y`` over each cell's neighbours (self excluded).
    direction : numpy.ndarray of int, shape (n,)
        +1 where the statistic increases with the neighbour sum, -1 where it
        decreases, 0 where it does not depend on it (all permutations tie).
    draws : numpy.ndarray of int64, shape (permutations, >= max cardinality)
        Shared permutation indices, e.g. from :func:`permutation_draws`.
    tie_resolver : callable, optional
        Decides pairs whose sums tie (see module docstring). When None, a tie
        counts as ">=" -- exact whenever the statistic is computed exactly
        (integer counts, binary weights).

    Returns
    -------
    numpy.ndarray of int64
        ``larger`` per cell; -1 for islands (cardinality 0).
    """
    y = np.asarray(y, dtype=np.float64)
    cardinalities = np.asarray(cardinalities)
    observed_sums = np.asarray(observed_sums, dtype=np.float64)
    direction = np.asarray(direction)
    n_perm = draws.shape[0]
    larger = np.full(len(y), -1, dtype=np.int64)
    for k in np.unique(cardinalities):
        if k == 0:
            continue
        group = np.flatnonzero(cardinalities == k)
        above, below, tie_cells, tie_perms = _group_sums_compare(
            y, group, observed_sums[group], draws[:, :k], _sum_tolerance(y, k)
        )
        dirs = direction[group]
        counts = np.where(dirs > 0, above, below)
        counts[dirs == 0] = 0
        if len(tie_cells):
            if tie_resolver is None:
                ties_ge = np.ones(len(tie_cells), dtype=bool)
            else:
                ties_ge = np.asarray(tie_resolver(group[tie_cells], tie_perms, int(k)), bool)
            counts += np.bincount(tie_cells[ties_ge], minlength=len(group))
        # A statistic that ignores the neighbours equals its observed value
        # in every permutation.
        counts[dirs == 0] = n_perm
        larger[group] = counts
    return larger


def permuted_neighbour_values(
    values: np.ndarray, cells: np.ndarray, perms: np.ndarray, k: int, draws: np.ndarray
) -> np.ndarray:
    """The k permuted neighbour values esda uses for (cell, permutation) pairs.

    Returns a C-contiguous (len(cells), k) array: ``values`` without the
    cell's own entry, indexed by ``draws[perm, :k]``.
    """
    r = draws[perms, :k]
    return values[r + (r >= cells[:, None])]


def esda_row_dot(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``rows @ weights`` with the rounding esda's (permutations, k) product has.

    numpy hands a matrix-vector product to BLAS ``gemv``; a single row would
    go to ``dot`` instead, whose rounding can differ, so one-row inputs are
    padded to two.
    """
    if len(rows) == 1:
        return (np.vstack([rows, rows]) @ weights)[:1]
    return np.ascontiguousarray(rows) @ weights


def folded_p(larger: np.ndarray, permutations: int) -> np.ndarray:
    """esda's folded one-sided pseudo p: (min(larger, P - larger) + 1) / (P + 1)."""
    larger = np.asarray(larger, dtype=np.float64)
    extreme = np.minimum(larger, permutations - larger)
    return (extreme + 1.0) / (permutations + 1.0)


def two_sided_p(larger: np.ndarray, permutations: int) -> np.ndarray:
    """Two-sided pseudo p: ``min(1, 2 * folded)``; NaN where ``larger < 0``."""
    p = np.minimum(1.0, 2.0 * folded_p(larger, permutations))
    return np.where(np.asarray(larger) < 0, np.nan, p)
