"""Space-time Gi* of every bin of a cube, with the project's calibrated inference.

Which bins a bin is compared with (the "global window")
-------------------------------------------------------
Gi* compares a bin's neighbourhood with the mean and variance of a set of
bins, and the conditional permutation test shuffles that same set. ArcGIS
offers three such windows; we offer two:

- ``"neighbourhood"`` (the default): the bins of the steps the neighbourhood
  spans, ``t - time_lag … t`` (ArcGIS's "Neighborhood time step" window). A
  city-wide rise, or a summer, moves the whole window together, so a bin is
  hot only where its neighbourhood stands out *in its own months*. Monthly
  crime is seasonal; a null that shuffles July's counts with February's would
  call the whole city hot every July.
- ``"cube"``: every bin of every step (ArcGIS's default, "Entire cube"). A
  bin is hot where its neighbourhood stands out against the whole period, so
  city-wide growth and seasons show up as hot and cold steps.

Within the window the statistic and its test are those of the one-snapshot
runs (:mod:`spatial.stats`, :mod:`spatial.inference`): Gi* with binary
weights (the bin itself included), z for reference, and the exact
conditional-permutation p of the neighbourhood's incidents (ties counted
against significance; Monte Carlo only past the work budget). Every full
window has the same neighbour graph, so it is built once.

Benjamini–Hochberg runs once over every bin of the cube (cells × steps): the
categories read all steps, so the cube is one family of tests; FDR per step
would let 24 steps each spend the error rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from spatial.emerging.cube import SpaceTimeCube, space_time_graph
from spatial.inference import conditional_tails
from spatial.significance import fdr_bh, gi_bin_from_tails
from spatial.stats import gi_star_analytic
from spatial.weights import NeighbourGraph

GLOBAL_WINDOWS = ("neighbourhood", "cube")


@dataclass(frozen=True)
class CubeGiStar:
    """Gi* and its significance for every bin, arrays of shape (cells, steps).

    Attributes
    ----------
    z : Gi* z-score (binary weights, self included); NaN where the bin has no
        neighbour or its window has no incident.
    p : two-sided exact conditional-permutation p; NaN where not tested.
    p_fdr : ``p`` after Benjamini–Hochberg over the whole cube (or ``p`` when FDR is off).
    direction : +1 where the neighbourhood's incidents were unusually high, -1 low, 0 neither.
    gi_bin : Esri's Gi_Bin classes (±3, ±2, ±1, 0) from ``direction`` and ``p_fdr``.
    smallest_p : the smallest p each bin could have reached (its power ceiling).
    methods : the inference method of each window (exact or Monte Carlo).
    """

    z: np.ndarray
    p: np.ndarray
    p_fdr: np.ndarray
    direction: np.ndarray
    gi_bin: np.ndarray
    smallest_p: np.ndarray
    methods: tuple[str, ...]


def window_steps(step: int, time_lag: int, steps: int, global_window: str) -> tuple[int, int]:
    """First and last step (inclusive) of the window in which ``step`` is tested."""
    if global_window == "cube":
        return 0, steps - 1
    return max(0, step - time_lag), step


class _Graphs:
    """Space-time graphs by window length: every full window shares one."""

    def __init__(self, spatial: NeighbourGraph, time_lag: int):
        self.spatial, self.time_lag = spatial, time_lag
        self._built: dict[int, NeighbourGraph] = {}

    def __call__(self, steps: int) -> NeighbourGraph:
        if steps not in self._built:
            self._built[steps] = space_time_graph(self.spatial, steps, self.time_lag)
        return self._built[steps]


class _Window(NamedTuple):
    """Gi* z and conditional tails of every bin of one window (bin ``s * n + i``)."""

    z: np.ndarray
    p: np.ndarray
    direction: np.ndarray
    smallest_p: np.ndarray
    method: str


def _window_statistics(y: np.ndarray, graph: NeighbourGraph, seed: int, permutations: int) -> _Window:
    """One window's statistics; nothing is tested in a window without incidents."""
    if y.sum() <= 0:
        nan = np.full(len(y), np.nan)
        return _Window(nan, nan, np.zeros(len(y), dtype=np.int64), nan, "no incidents")
    with np.errstate(divide="ignore", invalid="ignore"):  # z is undefined when every bin is equal
        z = gi_star_analytic(y, graph, "b")[3]
    tails = conditional_tails(y, graph, seed=seed, permutations=permutations)
    return _Window(np.where(graph.cardinalities == 0, np.nan, z), tails.p, tails.direction, tails.smallest_p,
                   tails.method)


def cube_gi_star(cube: SpaceTimeCube, spatial: NeighbourGraph, *, time_lag: int = 1,
                 global_window: str = "neighbourhood", fdr: bool = True, seed: int = 0,
                 permutations: int = 9999) -> CubeGiStar:
    """Space-time Gi* with exact conditional p for every bin of ``cube``.

    Parameters
    ----------
    cube : SpaceTimeCube
    spatial : NeighbourGraph
        The cells' k-ring neighbours (positions as ``cube.cells``).
    time_lag : int
        Previous steps in each bin's neighbourhood.
    global_window : {'neighbourhood', 'cube'}
        The bins each bin is compared with (module docstring).
    fdr : bool
        Benjamini–Hochberg over all bins of the cube.
    seed, permutations : int
        For the Monte Carlo fallback only (the exact test draws nothing); the
        window of step ``t`` uses ``seed + t``.
    """
    if global_window not in GLOBAL_WINDOWS:
        raise ValueError(f"global_window must be one of {GLOBAL_WINDOWS}, got {global_window!r}")
    n, steps = cube.counts.shape
    shape = (n, steps)
    z, p, smallest = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    direction = np.zeros(shape, dtype=np.int64)
    graphs = _Graphs(spatial, time_lag)
    methods = []
    # with the cube window every step is read from one window: compute it once
    focal_steps = [steps - 1] if global_window == "cube" else range(steps)
    for step in focal_steps:
        first, last = window_steps(step, time_lag, steps, global_window)
        width = last - first + 1
        y = cube.counts[:, first:last + 1].T.ravel().astype(np.float64)  # bin s * n + i
        window = _window_statistics(y, graphs(width), seed + step, permutations)
        methods.append(window.method)
        read = slice(0, width) if global_window == "cube" else slice(width - 1, width)
        for target, values in zip((z, p, direction, smallest), (window.z, window.p, window.direction,
                                                                 window.smallest_p)):
            target[:, first + read.start:first + read.stop] = values.reshape(width, n)[read].T
    p_fdr = fdr_bh(p.ravel()).reshape(shape) if fdr else p
    bins = gi_bin_from_tails(direction.ravel(), p_fdr.ravel()).reshape(shape)
    return CubeGiStar(z=z, p=p, p_fdr=p_fdr, direction=direction, gi_bin=bins, smallest_p=smallest,
                      methods=tuple(methods))
