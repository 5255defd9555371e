"""Sequential Monte Carlo for local statistics of values that are not counts (rates).

Why
---
Smoothed rates are not whole numbers, so the exact conditional test of
:mod:`spatial.inference` does not apply and the p-values come from random
conditional permutations. With a fixed ``P`` permutations the smallest
two-sided p is ``2 / (P + 1)``; Benjamini–Hochberg over ``n`` cells needs the
smallest p at or below ``alpha / n`` before it can flag anything. At 999
permutations that is hopeless beyond ~25 cells; giving every cell the
``2n / alpha`` permutations it would take (200,000 for 5,000 cells) is
wasted on the cells that are plainly ordinary.

What this module does
---------------------
Besag and Clifford (1991), "Sequential Monte Carlo p-values", Biometrika
78(2): keep drawing permutations for a cell only while it could still be
significant. Draws come in batches (99, then doubling), shared by every cell
still drawing (esda shares one table of draws in the same way); a cell stops
once ``h`` permuted neighbourhoods reached its own in *each* tail (so its
two-sided p is at least about ``2h / l`` after ``l`` draws: nowhere near
significant), or at the budget ``P``. Each tail's p is
``(at least as extreme + 1) / (draws + 1)`` at the cell's own number of
draws, ties (within a relative 1e-9) counted in both tails, two-sided as
``min(1, 2 * min(upper, lower))``, as in :mod:`spatial.inference`.

A cell that stops early has a large p; a small p can only come from a cell
that drew the whole budget, whose p is the ordinary Monte Carlo p at ``P``
draws, valid (super-uniform) under the null. So the stopping saves work
without making small p-values more likely. The budget is chosen from the
grid's size (:func:`permutations_for_grid`) so a single cell's adjusted p can
fall below 0.01 (the 99 % class); above ``MAX_PERMUTATIONS`` it is capped, and the answer says so
(``smallest_reachable_p``).

Conditional randomisation (the cell keeps its own value; its ``k``
neighbours are drawn without replacement from the other ``n - 1`` cells) with
weights uniform in a row makes Gi* and local Moran's I monotone in the
neighbours' sum, so one p serves both, as for counts.
"""

from __future__ import annotations

import math

import numpy as np

from spatial.inference import (
    EXACT_WORK_BUDGET,
    LocalTails,
    _tails,
    exact_tails,
    exact_work,
    is_count_data,
    neighbour_sums,
)
from spatial.weights import NeighbourGraph

SEQUENTIAL = "sequential-monte-carlo-conditional"
# Besag and Clifford's h: a cell stops after h permuted neighbourhoods at least as extreme in each tail
STOP_AFTER = 10
FIRST_BATCH = 99
# The most draws any one cell gets (a run of ~68,000 cells would want 2.7 million at alpha 0.05)
MAX_PERMUTATIONS = 1_000_000
# Elements (cells x draws x neighbours) gathered at once: ~32 MB of indices
_CHUNK_ELEMENTS = 4_000_000


# The strictest Gi_Bin class (99 %): adjusted p below 0.01
STRICTEST_CLASS = 0.01


def permutations_for_grid(cells: int, alpha: float, at_least: int = 999) -> int:
    """Draws per cell at which one cell alone can reach the 99 % class: its FDR-adjusted smallest p,
    ``cells * 2 / (P + 1)``, strictly below 0.01 (and so below ``alpha``), capped at ``MAX_PERMUTATIONS``.

    Why strictly below: with ``P + 1 = 2 * cells / alpha`` a lone strongest cell's adjusted p is
    exactly ``alpha``, and the classes test ``p < threshold``, so it would get no class at all.
    """
    bar = min(alpha, STRICTEST_CLASS)
    wanted = math.ceil(2.0 * max(cells, 1) / bar)
    return int(min(MAX_PERMUTATIONS, max(at_least, wanted)))


def _draws(rng: np.random.Generator, others: int, k: int, size: int) -> np.ndarray:
    """``size`` rows of ``k`` distinct indices in ``range(others)``, each row uniformly at random."""
    if k * 4 > others:  # dense: rejection would rarely succeed
        return np.argsort(rng.random((size, others)), axis=1)[:, :k]
    rows = rng.integers(0, others, size=(size, k))
    while True:
        ordered = np.sort(rows, axis=1)
        repeated = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not repeated.any():
            return rows
        rows[repeated] = rng.integers(0, others, size=(int(repeated.sum()), k))


def _count_tails(y: np.ndarray, cells: np.ndarray, k: int, draws: np.ndarray, low: np.ndarray,
                 high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cell (all of cardinality ``k``): draws whose neighbour sum is >= ``low`` and <= ``high``.

    A draw ``r`` of cell ``i`` reads the ``r``-th of the other cells: ``y[r]`` below ``i``, ``y[r + 1]`` from it.
    """
    picked = draws[:, :k]
    above = np.empty(len(cells), dtype=np.int64)
    below = np.empty(len(cells), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(picked.size, 1))
    for start in range(0, len(cells), step):
        chunk = cells[start:start + step]
        index = picked[None, :, :] + (picked[None, :, :] >= chunk[:, None, None])
        sums = y[index].sum(axis=2)
        above[start:start + step] = (sums >= low[start:start + step, None]).sum(axis=1)
        below[start:start + step] = (sums <= high[start:start + step, None]).sum(axis=1)
    return above, below


def sequential_tails(y: np.ndarray, graph: NeighbourGraph, *, seed: int, permutations: int,
                     stop_after: int = STOP_AFTER, first_batch: int = FIRST_BATCH) -> LocalTails:
    """Two-sided conditional-permutation p of each cell's neighbour sum, by sequential Monte Carlo.

    Parameters
    ----------
    y : array_like, shape (n,)
        The value of each cell (smoothed rates, or any real values).
    graph : NeighbourGraph
        Neighbours (the cell itself excluded); islands get NaN.
    seed : int
        Seed, required: the same seed gives the same p-values.
    permutations : int
        The budget: the most draws one cell gets (its smallest p is ``2 / (permutations + 1)``).
    stop_after : int
        Besag and Clifford's ``h``.
    first_batch : int
        Draws in the first batch; each later batch doubles the draws so far.

    Returns
    -------
    LocalTails
        ``permutations`` is the budget; ``smallest_p`` is ``2 / (budget + 1)`` for every cell tested.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    k = np.asarray(graph.cardinalities)
    observed = neighbour_sums(y, graph)
    tolerance = 1e-9 * max(1.0, float(np.abs(y).max(initial=0.0)) * max(int(k.max(initial=0)), 1))
    low, high = observed - tolerance, observed + tolerance
    above = np.zeros(n, dtype=np.int64)
    below = np.zeros(n, dtype=np.int64)
    drawn = np.zeros(n, dtype=np.int64)
    active = k > 0
    rng = np.random.default_rng(seed)
    max_k = int(k.max(initial=0))
    done = 0
    while active.any() and done < permutations:
        batch = min(permutations - done, max(first_batch, done))
        draws = _draws(rng, n - 1, max_k, batch)
        for size in np.unique(k[active]):
            cells = np.flatnonzero(active & (k == size))
            more_above, more_below = _count_tails(y, cells, int(size), draws, low[cells], high[cells])
            above[cells] += more_above
            below[cells] += more_below
        drawn[active] += batch
        done += batch
        active &= np.minimum(above, below) < stop_after
    island = k == 0
    upper = np.where(island, np.nan, (above + 1.0) / (drawn + 1.0))
    lower = np.where(island, np.nan, (below + 1.0) / (drawn + 1.0))
    smallest = np.where(island, np.nan, min(1.0, 2.0 / (permutations + 1.0)))
    return _tails(upper, lower, smallest, SEQUENTIAL, permutations)


def draws_used(tails: LocalTails, stop_after: int = STOP_AFTER) -> str:
    """In words, for provenance: the rule the draws followed."""
    return (f"Besag–Clifford sequential Monte Carlo: batches of draws shared by the cells still drawing; a cell "
            f"stops once {stop_after} permuted neighbourhoods reach its own in each tail, or at "
            f"{tails.permutations:,} draws")


def calibrated_tails(y: np.ndarray, graph: NeighbourGraph, *, seed: int, alpha: float,
                     permutations: int = 999) -> LocalTails:
    """Exact tails for counts within the exact test's work budget; otherwise sequential Monte Carlo
    with enough draws for the grid's size (at least ``permutations``), so FDR at ``alpha`` can pass."""
    max_k = int(graph.cardinalities.max(initial=0))
    if is_count_data(y) and exact_work(y, max_k) <= EXACT_WORK_BUDGET:
        return exact_tails(y, graph)
    tested = int((np.asarray(graph.cardinalities) > 0).sum())
    return sequential_tails(y, graph, seed=seed,
                            permutations=permutations_for_grid(tested, alpha, at_least=permutations))
