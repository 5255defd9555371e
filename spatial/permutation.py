"""Fast conditional-permutation counts, identical to esda's ``crand``.

esda's conditional randomisation draws ONE table of permutation indices,
``draws`` with shape ``(permutations, max_card)``, shared by every cell. For
cell ``i`` with ``k`` neighbours, permutation ``p`` takes as "neighbours" the
values ``v_wo_i[draws[p, :k]]``, where ``v_wo_i`` is the variable with
element ``i`` removed: index ``r`` reads ``v[r]`` when ``r < i`` and
``v[r + 1]`` when ``r >= i``. esda gathers those values for every cell (an
n-long copy per cell plus permutations x k reads). We do not.

How the engine works
--------------------
1. *Few distinct lags.* For permutation ``p`` and a cell ``i``, which of the
   ``k`` draws read ``v[r]`` depends only on how many draws lie below ``i``.
   So the permuted lag of every cell of cardinality ``k`` is one of
   ``k + 1`` values per permutation, ``lag[p, c]``. We compute that small
   table with the same (permutations, k) BLAS product esda uses, so every
   value is bit-for-bit esda's ``zrand @ other_weights``.
2. *Monotone statistics.* With weights uniform within a row (binary, or
   row-standardised H3 weights), Gi* and local Moran are monotone functions
   of the lag for a fixed cell, in floating point too (rounding is
   monotone). So "permuted statistic >= observed" is "lag inside an
   interval", whose float end point we find exactly by bisection over the
   ordered float64 values, evaluating esda's own expression. Ties,
   common with crime counts, are therefore decided exactly as esda decides
   them.
3. *Sweep.* As cells are swept in index order, ``lag[p, .]`` moves to the
   next segment only when the cell index passes one of the draws:
   ``permutations x k`` events in all. Cells are processed in blocks of 64
   events: counts come from binary search in one sorted copy of the current
   lags plus a small telescoping correction for the events inside the block.
   Work is O(n log P + P k (k + n/64)) instead of esda's O(n (n + P k)).

The counts (``larger``: permutations whose statistic is >= the observed one)
are identical to esda's for the same draws; the tests check this.
"""

from __future__ import annotations

import numpy as np

_EVENTS_PER_BLOCK = 64  # see count_in_range


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


def permuted_neighbour_values(
    values: np.ndarray, cells: np.ndarray, perms: np.ndarray, k: int, draws: np.ndarray
) -> np.ndarray:
    """The k permuted neighbour values esda reads for (cell, permutation) pairs.

    ``values`` without the cell's own entry, indexed by ``draws[perm, :k]``;
    a slow, obviously-correct reference used by the tests.
    """
    r = draws[perms, :k]
    return values[r + (r >= np.asarray(cells)[:, None])]


def esda_row_dot(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``rows @ weights`` rounded as esda's (permutations, k) product is.

    numpy hands a matrix-vector product to BLAS ``gemv``; a single row would
    go to ``dot`` instead, whose rounding can differ, so one-row inputs are
    padded to two.
    """
    if len(rows) == 1:
        return (np.vstack([rows, rows]) @ weights)[:1]
    return np.ascontiguousarray(rows) @ weights


def permuted_lag_table(values: np.ndarray, draws_k: np.ndarray, weight: float):
    """esda's permuted spatial lag for every permutation and sweep segment.

    Parameters
    ----------
    values : numpy.ndarray of float64, shape (n,)
        The permuted variable (counts for Gi*, z-values for local Moran).
    draws_k : numpy.ndarray of int64, shape (permutations, k)
        First ``k`` columns of the shared draws.
    weight : float
        The weight of every neighbour (uniform within the row).

    Returns
    -------
    lag : numpy.ndarray, shape (permutations, k + 1)
        ``lag[p, c]`` is exactly esda's ``zrand[p] @ other_weights`` for any
        cell lying above exactly ``c`` of the ``k`` draws of permutation ``p``
        (those draws read ``values[r]``, the others ``values[r + 1]``). Each
        column is one (permutations, k) product, the shape esda multiplies,
        so BLAS rounds every row the same way.
    rank : numpy.ndarray of int64, shape (permutations, k)
        Rank of each draw within its row.
    """
    n_perm, k = draws_k.shape
    rank = np.argsort(np.argsort(draws_k, axis=1, kind="stable"), axis=1, kind="stable")
    if_below = values[draws_k]
    if_above = values[draws_k + 1]
    weights = np.full(k, weight)
    lag = np.empty((n_perm, k + 1))
    for c in range(k + 1):
        lag[:, c] = esda_row_dot(np.where(rank < c, if_below, if_above), weights)
    return lag, rank


def _sweep_events(group: np.ndarray, draws_k: np.ndarray, rank: np.ndarray):
    """Where each permutation's lag changes segment as cells are swept.

    A draw ``r`` switches from ``values[r + 1]`` to ``values[r]`` for cells
    ``i > r``; in group-local positions that is from
    ``searchsorted(group, r, 'right')`` on. Returns events sorted by that
    position (then permutation, then rank), dropping those past the end.
    """
    n_perm, k = draws_k.shape
    cell = np.searchsorted(group, draws_k, side="right").ravel()
    perm = np.repeat(np.arange(n_perm), k)
    seg = rank.ravel()
    order = np.lexsort((seg, perm, cell))
    cell, perm, seg = cell[order], perm[order], seg[order]
    keep = cell < len(group)
    return cell[keep], perm[keep], seg[keep]


def _count_group(lag, rank, draws_k, group, lower, upper, events_per_block):
    """Per group cell, permutations whose lag lies in ``[lower, upper]``.

    Sweeps cells in index order in blocks of ``events_per_block`` lag
    changes: within a block, counts come from one sorted copy of the lags at
    the block start (binary search), plus a small correction for the lag
    changes inside the block (each change moves one permutation from its
    old value to its new value, so the corrections telescope).
    """
    n_cells = len(group)
    ev_cell, ev_perm, ev_seg = _sweep_events(group, draws_k, rank)
    before = lag[ev_perm, ev_seg]
    after = lag[ev_perm, ev_seg + 1]
    current = lag[:, 0].copy()
    counts = np.zeros(n_cells, dtype=np.int64)
    n_events = len(ev_cell)
    for e0 in range(0, max(n_events, 1), events_per_block):
        e1 = min(e0 + events_per_block, n_events)
        c0 = 0 if e0 == 0 else ev_cell[e0]
        c1 = ev_cell[e1] if e1 < n_events else n_cells
        if c1 > c0:
            lo, hi = lower[c0:c1], upper[c0:c1]
            ordered = np.sort(current)
            counts[c0:c1] = np.searchsorted(ordered, hi, "right") - np.searchsorted(
                ordered, lo, "left"
            )
            if e1 > e0:
                applied = ev_cell[None, e0:e1] <= np.arange(c0, c1)[:, None]
                now_in = (after[None, e0:e1] >= lo[:, None]) & (after[None, e0:e1] <= hi[:, None])
                was_in = (before[None, e0:e1] >= lo[:, None]) & (before[None, e0:e1] <= hi[:, None])
                counts[c0:c1] += (applied & now_in).sum(1) - (applied & was_in).sum(1)
        if e1 > e0:
            perms = ev_perm[e0:e1]
            # a permutation can change twice in a block: the last change wins
            _, last_rev = np.unique(perms[::-1], return_index=True)
            last = len(perms) - 1 - last_rev
            current[perms[last]] = after[e0:e1][last]
    return counts


def count_in_range(
    values: np.ndarray,
    cardinalities: np.ndarray,
    neighbour_weight: np.ndarray,
    draws: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    events_per_block: int = _EVENTS_PER_BLOCK,
) -> np.ndarray:
    """Per cell, permutations whose esda lag lies in ``[lower, upper]``.

    With ``[lower, upper]`` from :func:`lag_interval_reaching`, this is
    esda's ``larger``: the number of permutations whose statistic is >= the
    observed one.

    Parameters
    ----------
    values : numpy.ndarray, shape (n,)
        The permuted variable, as esda sees it.
    cardinalities : numpy.ndarray of int, shape (n,)
        Neighbours per cell, self excluded.
    neighbour_weight : numpy.ndarray, shape (n,)
        Weight of each neighbour of the cell (uniform within a row).
    draws : numpy.ndarray of int64, shape (permutations, >= max cardinality)
        Shared draws (:func:`permutation_draws`).
    lower, upper : numpy.ndarray, shape (n,)
        Closed interval of lag values that count, per cell.

    Returns
    -------
    numpy.ndarray of int64
        Count per cell; -1 for islands (cardinality 0).
    """
    values = np.asarray(values, dtype=np.float64)
    cardinalities = np.asarray(cardinalities)
    neighbour_weight = np.asarray(neighbour_weight, dtype=np.float64)
    counts = np.full(len(values), -1, dtype=np.int64)
    keys = np.stack([cardinalities.astype(np.float64), neighbour_weight], axis=1)
    for k, weight in np.unique(keys[cardinalities > 0], axis=0):
        k = int(k)
        group = np.flatnonzero((cardinalities == k) & (neighbour_weight == weight))
        draws_k = np.ascontiguousarray(draws[:, :k])
        lag, rank = permuted_lag_table(values, draws_k, weight)
        counts[group] = _count_group(
            lag, rank, draws_k, group, lower[group], upper[group], events_per_block
        )
    return counts


_SIGN_BIT = np.int64(-0x8000000000000000)
_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)


def _float_to_key(x: np.ndarray) -> np.ndarray:
    """Map float64 to int64 so that the integer order is the float order."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits >= 0, bits, ~(bits & _MAGNITUDE))


def _key_to_float(key: np.ndarray) -> np.ndarray:
    bits = np.where(key >= 0, key, (~key) | _SIGN_BIT)
    return bits.astype(np.int64).view(np.float64)


def _smallest_reaching(statistic, target):
    """Smallest float ``L`` with ``statistic(L, cells) >= target``, per cell.

    ``statistic`` must be non-decreasing in ``L``. Bisection over the
    ordered float64 values (64 rounds): exact, and immune to flat stretches
    (e.g. ``fl(L + 3) == 3`` for every ``|L| < 2.2e-16``). Returns -inf
    where every lag reaches the target and +inf where none does.
    """
    n = len(target)
    cells = np.arange(n)
    big = np.finfo(np.float64).max
    low = np.full(n, _float_to_key(np.array(-big)), dtype=np.int64)  # not reaching
    high = np.full(n, _float_to_key(np.array(big)), dtype=np.int64)  # reaching
    result = np.empty(n)
    with np.errstate(over="ignore"):  # the search starts at +-max float
        all_reach = statistic(np.full(n, -big), cells) >= target
        none_reach = ~(statistic(np.full(n, big), cells) >= target)
    result[all_reach] = -np.inf
    result[none_reach & ~all_reach] = np.inf
    active = np.flatnonzero(~all_reach & ~none_reach)
    lo, hi = low[active], high[active]
    for _ in range(70):
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)
        open_ = mid != lo
        if not open_.any():
            break
        with np.errstate(over="ignore"):
            reached = statistic(_key_to_float(mid), active) >= target[active]
        hi = np.where(open_ & reached, mid, hi)
        lo = np.where(open_ & ~reached, mid, lo)
    result[active] = _key_to_float(hi)
    return result


def lag_interval_reaching(statistic, target, direction):
    """Per cell, the closed interval of lags whose statistic is >= ``target``.

    Parameters
    ----------
    statistic : callable(lag, cells) -> numpy.ndarray
        esda's floating-point statistic for the given cells at the given lag
        values; monotone in the lag (see ``direction``).
    target : numpy.ndarray
        Observed statistic per cell.
    direction : numpy.ndarray of int
        +1 statistic non-decreasing in the lag, -1 non-increasing, 0
        constant and equal to ``target`` (every permutation counts).

    Returns
    -------
    lower, upper : numpy.ndarray
    """
    direction = np.asarray(direction)
    n = len(target)
    lower = np.full(n, -np.inf)
    upper = np.full(n, np.inf)
    rising = np.flatnonzero(direction > 0)
    falling = np.flatnonzero(direction < 0)
    if len(rising):
        lower[rising] = _smallest_reaching(
            lambda lag, c: statistic(lag, rising[c]), target[rising]
        )
    if len(falling):
        upper[falling] = -_smallest_reaching(
            lambda lag, c: statistic(-lag, falling[c]), target[falling]
        )
    return lower, upper


def folded_p(larger: np.ndarray, permutations: int) -> np.ndarray:
    """esda's folded one-sided pseudo p: (min(larger, P - larger) + 1) / (P + 1)."""
    larger = np.asarray(larger, dtype=np.float64)
    extreme = np.minimum(larger, permutations - larger)
    return (extreme + 1.0) / (permutations + 1.0)


def two_sided_p(larger: np.ndarray, permutations: int) -> np.ndarray:
    """Two-sided pseudo p: ``min(1, 2 * folded)``; NaN where ``larger < 0``."""
    p = np.minimum(1.0, 2.0 * folded_p(larger, permutations))
    return np.where(np.asarray(larger) < 0, np.nan, p)
