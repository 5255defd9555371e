"""Neighbour graphs on an H3 grid, and their libpysal form.

Two cells are neighbours when their H3 grid distance is at most ``k`` and
both are in the grid. Neighbours are never invented across gaps: St Kitts and
Nevis are separated by a ~3 km channel, so at resolution 9 with k=1 the grid
splits into (at least) two connected components.

Islands
-------
A cell with no neighbour in the grid is an *island*. Local statistics
(Gi*, local Moran) have no neighbourhood to compare it with, so
``spatial.stats`` reports it as "no neighbours": z and p are NaN, never a
fabricated value (esda, by contrast, gives such a cell a pseudo p-value of
1/(permutations+1), the most significant value possible). Islands still take
part in the global mean and variance, as in esda.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.basic_int as h3i
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph


@dataclass(frozen=True)
class NeighbourGraph:
    """Compressed (CSR) neighbour lists for ``n`` cells.

    Attributes
    ----------
    indptr : numpy.ndarray of int64, shape (n + 1,)
        Neighbours of cell ``i`` are ``indices[indptr[i]:indptr[i + 1]]``.
    indices : numpy.ndarray of int32
        Neighbour positions, ascending within each row; never ``i`` itself.
    n : int
        Number of cells.
    islands : numpy.ndarray of int64
        Positions of cells with no neighbour.
    components : numpy.ndarray of int32
        Connected-component label of each cell (islands get their own).
    """

    indptr: np.ndarray
    indices: np.ndarray
    n: int
    islands: np.ndarray
    components: np.ndarray

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each cell."""
        return np.diff(self.indptr)

    @property
    def n_components(self) -> int:
        """Number of connected components (islands included)."""
        return int(self.components.max()) + 1 if self.n else 0

    def neighbours_of(self, i: int) -> np.ndarray:
        """Neighbour positions of cell ``i``."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def to_sparse(self, self_weight: float = 0.0) -> sparse.csr_matrix:
        """Binary CSR matrix, optionally with ``self_weight`` on the diagonal."""
        data = np.ones(len(self.indices))
        m = sparse.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
        if self_weight:
            m = (m + sparse.identity(self.n, format="csr") * self_weight).tocsr()
            m.sort_indices()
        return m


def graph_from_csr(indptr, indices, n: int) -> NeighbourGraph:
    """Build a NeighbourGraph (islands and components) from CSR arrays.

    Self-links are dropped and each row is sorted ascending.
    """
    m = sparse.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices), np.asarray(indptr)), shape=(n, n)
    )
    m.setdiag(0)
    m.eliminate_zeros()
    m.sum_duplicates()
    m.sort_indices()
    indptr = m.indptr.astype(np.int64)
    indices = m.indices.astype(np.int32)
    islands = np.flatnonzero(np.diff(indptr) == 0)
    if n:
        _, labels = csgraph.connected_components(m, directed=False)
    else:
        labels = np.empty(0)
    return NeighbourGraph(indptr, indices, n, islands, labels.astype(np.int32))


def h3_neighbours(cells: np.ndarray, k: int = 1) -> NeighbourGraph:
    """Cells within grid distance ``k`` that are also in the grid.

    Parameters
    ----------
    cells : numpy.ndarray of int64
        H3 indexes of one resolution, unique (any order; positions refer to
        this order).
    k : int
        Grid distance (1 = the six touching hexagons).

    Returns
    -------
    NeighbourGraph
    """
    cells = np.asarray(cells, dtype=np.int64)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if len(np.unique(cells)) != len(cells):
        raise ValueError("cells must be unique")
    n = len(cells)
    disks = [h3i.grid_disk(int(c), k) for c in cells]
    counts = np.fromiter((len(d) for d in disks), dtype=np.int64, count=n)
    candidates = np.fromiter(
        (x for d in disks for x in d), dtype=np.uint64, count=int(counts.sum())
    ).astype(np.int64)
    rows = np.repeat(np.arange(n), counts)

    order = np.argsort(cells)
    sorted_cells = cells[order]
    pos = np.searchsorted(sorted_cells, candidates)
    pos[pos == n] = 0
    present = sorted_cells[pos] == candidates if n else np.zeros(0, bool)
    cols = order[pos[present]]
    rows = rows[present]
    keep = cols != rows
    m = sparse.coo_matrix(
        (np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n)
    ).tocsr()
    return graph_from_csr(m.indptr, m.indices, n)


def graph_from_libpysal(w) -> NeighbourGraph:
    """NeighbourGraph with the same neighbours as a libpysal ``W`` (id_order)."""
    m = w.sparse.tocsr()
    return graph_from_csr(m.indptr, m.indices, w.n)


def to_libpysal(graph: NeighbourGraph, transform: str = "r"):
    """The graph as a ``libpysal.weights.W`` with ids ``0..n-1``.

    Parameters
    ----------
    graph : NeighbourGraph
    transform : {'r', 'b'}
        Row-standardised or binary weights.

    Returns
    -------
    libpysal.weights.W
        Islands are kept (empty neighbour lists); warnings silenced.
    """
    from libpysal.weights import W

    if transform.lower() not in ("r", "b"):
        raise ValueError(f"transform must be 'r' or 'b', got {transform!r}")
    neighbours = {
        i: graph.indices[graph.indptr[i] : graph.indptr[i + 1]].tolist()
        for i in range(graph.n)
    }
    w = W(neighbours, id_order=list(range(graph.n)), silence_warnings=True)
    w.transform = transform.upper()
    return w


def polygon_neighbours(polygons) -> NeighbourGraph:
    """Queen contiguity of community polygons: neighbours share at least one boundary point.

    Parameters
    ----------
    polygons : sequence of shapely Polygon or MultiPolygon
        Community boundaries (any CRS; positions refer to this order).

    Returns
    -------
    NeighbourGraph
        libpysal's ``Queen`` (shared vertices, as GeoDa): boundaries digitised
        separately, with no vertex in common, are not neighbours. A community
        that touches no other (an island parish) has no neighbour.
    """
    from libpysal.weights import Queen

    polygons = list(polygons)
    if not polygons:
        return graph_from_csr(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), 0)
    return graph_from_libpysal(Queen.from_iterable(polygons, ids=list(range(len(polygons))),
                                                   silence_warnings=True))
