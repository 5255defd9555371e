"""Permutation test of global Moran's I: fast on counts, ties counted, exact.

The test is the usual one (esda ``Moran``): relabel the values over the
cells by uniformly random permutations and count how many relabellings give
an I at least as large (and at least as small) as the observed one. This
module computes the same test in less time, without numba, in one process.

How
---
*Only the non-modal values move.* Write every value as the most common
value ``b`` plus a difference ``d`` (zero for most cells of a crime grid:
49,286 of 68,938 cells in the benchmark). A uniform permutation of the
values is then a uniformly random ordered choice of ``K`` distinct cells
for the ``K`` non-zero differences (``Generator.choice(n, K,
replace=False)``, a partial Fisher-Yates shuffle of ``K`` steps instead of
``n``); every other cell gets ``b``.

*One statistic, in integers.* With row-standardised weights ``W = D_k^-1 A``
(``A`` the binary neighbour matrix, ``k_i`` a cell's neighbour count),
``I = n / s0 * z'Wz / z'z`` and only ``z'Wz`` changes under permutation.
Expanding ``z = d - mean(d)``::

    z'Wz = d'Wd - mean(d) * g'd + const,     g = W1 + W'1

so ``I_perm >= I_obs`` exactly when ``T = n * L * d'Wd - sum(d) * L * g'd``
is at least its observed value, where ``L`` is the least common multiple
of the neighbour counts (60 for H3 k=1). On integer counts every term of
``T`` is an integer (``L / k_i`` and ``L * g_j`` are integers), so it is
computed exactly (float64 holds every integer below 2**53; a bound on |T|
is checked first) and ties are decided exactly.

*Batched and mostly shared work.* ``d'Ad`` for a batch of permutations is
one sparse-times-dense product of the binary adjacency with an ``(n,
batch)`` int16 matrix holding the placed differences (one buffer, reused),
read back only at the ``K`` placed cells. Inside a grid almost every cell
has the modal neighbour count ``k*``, so ``L/k_i = L/k*`` and ``L g_j = 2L``
there; the few border cells where they differ get a small correction, and
``g'd`` needs no per-cell gather at all.

Ties and tolerance
------------------
A relabelling whose I equals the observed I counts as at least as extreme,
in both directions: ``larger = #(I_perm >= I_obs)`` and ``smaller =
#(I_perm <= I_obs)``. On integer values that fit the exact bound the
comparison is exact (tolerance 0). Otherwise (rates, very large counts) the
comparison is made in float64 with a tolerance of ``1e-9`` times a bound on
``|T|`` (``TOLERANCE``), far above float64 rounding of these sums (about
``4e-11`` of the bound for 400,000 weights), so rounding cannot turn a tie
into "less extreme"; it may count as a tie a relabelling within that
distance, which can only make p larger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

import numpy as np
from scipy import sparse

from spatial.weights import NeighbourGraph

TOLERANCE = 1e-9  # relative to a bound on |T|; used only when T cannot be exact
_EXACT_LIMIT = 2.0**53  # float64 represents every integer below this
_INT16_LIMIT = 32767

TIE_RULE = (
    "ties count as at least as extreme in both directions: larger = #(I_perm >= I_obs), "
    "smaller = #(I_perm <= I_obs); exact integer comparison on counts, otherwise a tolerance "
    "of 1e-9 of the statistic's bound"
)


@dataclass(frozen=True)
class MoranPermutationCounts:
    """How many relabellings were at least as extreme as the observed I.

    Attributes
    ----------
    larger, smaller : int
        Relabellings with I >= / <= the observed I (ties in both).
    permutations : int
    exact : bool
        True when the comparison was made in exact integer arithmetic.
    tolerance : float
        Absolute tolerance on ``T`` (0 when exact).
    moved_cells : int
        Cells whose value differs from the most common one (``K``).
    """

    larger: int
    smaller: int
    permutations: int
    exact: bool
    tolerance: float
    moved_cells: int


@dataclass(frozen=True)
class _Layout:
    """Everything about the grid and the values that permutations do not change."""

    upper: sparse.csr_matrix  # triu(A + A'): d'Ad = d' upper d with half the products
    border_adjacency: sparse.csr_matrix  # the rows of A at border_rows
    differences: np.ndarray  # the K non-zero differences d, placement dtype
    differences_f: np.ndarray  # the same, float64
    observed_cells: np.ndarray  # where they are in the observed field
    common: float  # the most common difference: differences[:common_count]
    common_count: int
    rest: np.ndarray  # differences[common_count:] - common, float64
    total: float  # sum(d), the same for every relabelling
    scale: float  # L / k*, the row weight of almost every cell
    two_l: float  # L * g_j of an interior cell
    border_rows: np.ndarray  # cells with L / k_i != L / k*
    border_weight: np.ndarray  # (L / k_i) - L / k* there
    border_cols: np.ndarray  # cells with L * g_j != 2L
    border_g: np.ndarray  # 2L - L * g_j there
    n: int
    exact: bool
    tolerance: float


def _layout(y: np.ndarray, graph: NeighbourGraph) -> _Layout:
    n = graph.n
    cardinality = graph.cardinalities
    positive = np.unique(cardinality[cardinality > 0])
    lcm = float(reduce(math.lcm, (int(k) for k in positive), 1))
    modal_k = positive[np.argmax([(cardinality == k).sum() for k in positive])] if len(positive) else 1
    row_weight = np.where(cardinality > 0, lcm / np.maximum(cardinality, 1), 0.0)
    adjacency = sparse.csr_matrix(
        (np.ones(len(graph.indices)), graph.indices, graph.indptr), shape=(n, n))
    g = lcm * (cardinality > 0) + adjacency.T @ row_weight  # L * (W1 + W'1)

    values, counts = np.unique(y, return_counts=True)
    differences = y - values[np.argmax(counts)]
    observed_cells = np.flatnonzero(differences != 0)
    moved_values, moved_counts = np.unique(differences[observed_cells], return_counts=True)
    common = moved_values[np.argmax(moved_counts)] if len(moved_values) else 0.0
    # the most common difference first: d'Ad then needs one plain sum and a short dot
    observed_cells = observed_cells[np.argsort(differences[observed_cells] != common, kind="stable")]
    moved = differences[observed_cells]
    integer = bool(np.all(moved == np.round(moved)))
    largest = float(np.abs(moved).max()) if len(moved) else 0.0
    spread = float(np.abs(moved).sum())
    most = int(cardinality.max(initial=0))
    # |d'Ad| <= most * largest * spread bounds every partial sum of n * L d'Wd and its parts
    bound = (n * lcm * most * largest * spread
             + abs(float(moved.sum())) * float(g.max(initial=0)) * spread)
    exact = integer and bound < _EXACT_LIMIT
    # upper @ placed sums up to `most` neighbours with weight 2 in int16
    fits_int16 = exact and 2 * largest * most <= _INT16_LIMIT
    dtype = np.int16 if fits_int16 else np.float64
    scale = lcm / modal_k
    rows = np.flatnonzero(row_weight != scale)
    cols = np.flatnonzero(g != 2 * lcm)
    return _Layout(
        upper=sparse.triu(adjacency + adjacency.T, k=1, format="csr").astype(dtype),
        border_adjacency=adjacency[rows].astype(dtype), differences=moved.astype(dtype),
        differences_f=moved.astype(np.float64), observed_cells=observed_cells, common=float(common),
        common_count=int((moved == common).sum()), rest=(moved[moved != common] - common),
        total=float(moved.sum()), scale=scale,
        two_l=2 * lcm, border_rows=rows, border_weight=row_weight[rows] - scale,
        border_cols=cols, border_g=2 * lcm - g[cols], n=n, exact=exact,
        tolerance=0.0 if exact else TOLERANCE * bound,
    )


def _statistics(layout: _Layout, placed: np.ndarray, flat: np.ndarray, out: np.ndarray) -> None:
    """``T`` of each placed column: ``n * L d'Wd - sum(d) * L g'd`` (see module notes).

    ``placed`` (n, batch) holds the differences; column r has them at the
    flat positions ``flat[r]``.
    """
    m = len(out)
    lagged = layout.upper @ placed
    lag = lagged.reshape(-1).take(flat[:m])  # read at the K placed cells only
    # d'Ad = d' upper d. einsum, not BLAS: OpenBLAS threads spinning on a shared machine
    # cost more than these sums.
    dad = layout.common * lag.sum(axis=1, dtype=np.float64) + np.einsum(
        "rk,k->r", lag[:, layout.common_count:].astype(np.float64), layout.rest)
    rows, cols = layout.border_rows, layout.border_cols
    border_lag = (layout.border_adjacency @ placed)[:, :m]
    border = np.einsum("i,ir,ir->r", layout.border_weight, placed[rows, :m].astype(np.float64),
                       border_lag.astype(np.float64))
    quadratic = layout.scale * dad + border  # L * d'Wd
    linear = layout.two_l * layout.total - np.einsum(
        "j,jr->r", layout.border_g, placed[cols, :m].astype(np.float64))  # L * g'd
    out[:] = layout.n * quadratic - layout.total * linear


def moran_tied_counts(y, graph: NeighbourGraph, *, permutations: int, seed: int,
                      batch: int = 8) -> MoranPermutationCounts:
    """Count relabellings of ``y`` whose global Moran's I (row-standardised) ties or beats the observed.

    Parameters
    ----------
    y : numpy.ndarray, shape (n,)
        Values per cell (finite).
    graph : NeighbourGraph
    permutations : int
        Number of uniformly random relabellings.
    seed : int
        Seed of the ``numpy.random.Generator`` drawing them.
    batch : int
        Relabellings evaluated together (8 keeps the buffers in a core's cache).

    Returns
    -------
    MoranPermutationCounts
    """
    layout = _layout(np.asarray(y, dtype=np.float64), graph)
    n, moved = layout.n, len(layout.differences)
    if moved == 0:  # every relabelling is the observed field: all ties
        return MoranPermutationCounts(permutations, permutations, permutations, True, 0.0, 0)
    placed = np.zeros((n, batch), dtype=layout.differences.dtype)  # one buffer, reused
    flat_placed = placed.reshape(-1)
    flat = np.empty((batch, moved), dtype=np.intp)

    def place(r: int, cells: np.ndarray) -> None:
        np.multiply(cells, batch, out=flat[r])
        flat[r] += r
        flat_placed[flat[r]] = layout.differences

    def evaluate(out: np.ndarray) -> None:
        _statistics(layout, placed, flat, out)
        placed.fill(0)

    observed = np.empty(1)  # the observed field, through the same arithmetic
    place(0, layout.observed_cells)
    evaluate(observed)
    rng = np.random.default_rng(seed)
    statistics = np.empty(permutations)
    for start in range(0, permutations, batch):
        m = min(batch, permutations - start)
        for r in range(m):
            # a uniform ordered choice of K cells for the K differences = a uniform relabelling
            place(r, rng.choice(n, moved, replace=False))
        evaluate(statistics[start:start + m])
    tol = layout.tolerance
    return MoranPermutationCounts(
        larger=int((statistics >= observed[0] - tol).sum()),
        smaller=int((statistics <= observed[0] + tol).sum()),
        permutations=permutations, exact=layout.exact, tolerance=tol, moved_cells=moved,
    )
