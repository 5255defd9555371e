"""The space-time cube on an H3 grid, and the space-time neighbours of its bins.

A *bin* is one cell in one time step. The cube holds a count for every cell of
the grid in every step, zeros included (a cell with no incident in a month is
part of the picture, as in the one-snapshot runs).

Space-time neighbours
---------------------
We follow ArcGIS Pro's Emerging Hot Spot Analysis ("Neighborhood Time Step":
the bins within the neighbourhood distance in the same step and in the
preceding steps) and sfdep's ``spt_nb`` (the spatial neighbours, the cell
itself included, at ``t``, ``t - 1``, …, ``t - time_lag``), with the k-ring
as the spatial neighbourhood: the neighbours of bin ``(cell, t)`` are

- the cell's k-ring at step ``t`` (the bin itself is Gi*'s "star" weight), and
- the cell itself and its k-ring at each of the ``time_lag`` previous steps.

Only earlier steps count, never later ones, so the statistic of a step never
uses the future; the first ``time_lag`` steps have fewer time neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from spatial.hotspots import counts_on_grid
from spatial.weights import NeighbourGraph, graph_from_csr


@dataclass(frozen=True)
class SpaceTimeCube:
    """Incident counts per cell and time step, zeros included.

    Attributes
    ----------
    cells : numpy.ndarray of int64, shape (n,)
        H3 indexes of the grid, sorted ascending (as :class:`spatial.grid.CommunityGrid`).
    counts : numpy.ndarray of int64, shape (n, steps)
        Incidents in each cell in each step, oldest step first.
    """

    cells: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        if self.counts.ndim != 2 or self.counts.shape[0] != len(self.cells):
            raise ValueError(f"counts must have shape (cells, steps); got {self.counts.shape} for {len(self.cells)} cells")

    @property
    def steps(self) -> int:
        """Number of time steps."""
        return int(self.counts.shape[1])

    def __len__(self) -> int:
        return len(self.cells)


def cube_from_counts(grid_cells: np.ndarray, counted_cells: np.ndarray, counted_steps: np.ndarray,
                     counted: np.ndarray, steps: int) -> SpaceTimeCube:
    """Place (cell, step, count) rows, as a store's ``GROUP BY`` returns them, on the grid.

    Cells of the grid with no row count 0 in that step; rows for cells outside
    the grid (incidents outside the communities analysed) are dropped, as in
    :func:`spatial.hotspots.counts_on_grid`.
    """
    counted_cells = np.asarray(counted_cells, dtype=np.int64)
    counted_steps = np.asarray(counted_steps, dtype=np.int64)
    counted = np.asarray(counted, dtype=np.int64)
    if len(counted_steps) and (counted_steps.min() < 0 or counted_steps.max() >= steps):
        raise ValueError(f"step numbers must lie in 0..{steps - 1}")
    counts = np.zeros((len(grid_cells), steps), dtype=np.int64)
    for step in range(steps):
        in_step = counted_steps == step
        counts[:, step] = counts_on_grid(grid_cells, counted_cells[in_step], counted[in_step])
    return SpaceTimeCube(cells=np.asarray(grid_cells, dtype=np.int64), counts=counts)


def space_time_graph(spatial: NeighbourGraph, steps: int, time_lag: int) -> NeighbourGraph:
    """Space-time neighbours of the bins of ``steps`` consecutive steps.

    Parameters
    ----------
    spatial : NeighbourGraph
        The cells' spatial neighbours (k-ring, the cell itself excluded).
    steps : int
        Number of consecutive steps in the window.
    time_lag : int
        How many previous steps a bin looks back (0: space only).

    Returns
    -------
    NeighbourGraph
        Over ``steps * n`` bins; bin ``s * n + i`` is cell ``i`` in the
        window's step ``s`` (0 the oldest). Its neighbours are defined in the
        module docstring, cut at the window's first step.
    """
    if time_lag < 0:
        raise ValueError(f"time_lag must be >= 0, got {time_lag}")
    n = spatial.n
    ring = spatial.to_sparse().tocoo()
    ring_and_self = (spatial.to_sparse(self_weight=1.0)).tocoo()
    rows, cols = [], []
    for step in range(steps):
        for lag in range(min(step, time_lag) + 1):
            pairs = ring if lag == 0 else ring_and_self
            rows.append(step * n + pairs.row)
            cols.append((step - lag) * n + pairs.col)
    size = steps * n
    row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    matrix = sparse.coo_matrix((np.ones(len(row)), (row, col)), shape=(size, size)).tocsr()
    return graph_from_csr(matrix.indptr, matrix.indices, size)
