"""Seeded synthetic histories for testing and calibrating the outcome measures (never real data).

A grid is the H3 disk around a cell; a history is Poisson counts per cell and window, with an
optional persistent hot spot (a disk of cells with a higher rate in every window). The tests and
``bench/outcomes_calibration.py`` share these so the benchmark measures what the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
from scipy.stats import norm

from spatial.grid import cell_centres
from spatial.outcomes.baselines import local_metres
from spatial.outcomes.intervention import AreaCounts
from spatial.significance import fdr_bh, gi_bin
from spatial.stats import gi_star_analytic
from spatial.weights import NeighbourGraph, h3_neighbours

# A St Kitts cell, as in tests/spatial/test_planted.py.
CENTRE = h3.latlng_to_cell(17.30, -62.75, 9)


@dataclass(frozen=True)
class SyntheticGrid:
    cells: np.ndarray
    graph: NeighbourGraph
    x: np.ndarray  # cell centres, metres
    y: np.ndarray
    hot: np.ndarray  # the cells of the planted hot spot (used only when a rate is planted)
    spacing: float  # distance between neighbouring cell centres, metres


def disk_grid(radius: int = 20, hot_rings: int = 2, hot_offset: int = 8) -> SyntheticGrid:
    """The res-9 disk of ``radius`` rings around :data:`CENTRE`, a hot spot of ``hot_rings`` rings
    ``hot_offset`` rings out."""
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(CENTRE, radius)), dtype=np.int64)
    hot_centre = h3.grid_ring(CENTRE, hot_offset)[0]
    hot = np.isin(cells, [h3.str_to_int(c) for c in h3.grid_disk(hot_centre, hot_rings)])
    lonlat = cell_centres(cells)
    x, y = local_metres(lonlat[:, 0], lonlat[:, 1])
    spacing = float(np.sqrt(3) * h3.average_hexagon_edge_length(9, unit="m"))
    return SyntheticGrid(cells, h3_neighbours(cells), x, y, hot, spacing)


def planted_history(grid: SyntheticGrid, windows: int, *, background: float, hot_rate: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Poisson counts, shape (windows, cells): ``background`` per cell and window, ``hot_rate`` in the
    hot spot (set it equal to ``background`` for a null history)."""
    rates = np.where(grid.hot, hot_rate, background)
    return rng.poisson(rates, size=(windows, len(rates)))


def gi_hot_cells(counts: np.ndarray, graph: NeighbourGraph, alpha: float = 0.05) -> np.ndarray:
    """Cells a run would colour hot (Gi_Bin >= 2: 95 % or more, FDR-adjusted analytic p)."""
    counts = np.asarray(counts, dtype=float)
    if counts.sum() == 0:
        return np.zeros(len(counts), dtype=bool)
    _, _, _, z = gi_star_analytic(counts, graph)
    p = 2 * norm.sf(np.abs(z))
    return gi_bin(z, fdr_bh(p)) >= 2


def intervention_counts(rng: np.random.Generator, *, target: float, buffer: float, comparison: float,
                        target_change: float = 0.0, buffer_change: float = 0.0,
                        trend: float = 0.0) -> tuple[AreaCounts, AreaCounts, AreaCounts]:
    """Before/after Poisson counts with expected ``target``, ``buffer``, ``comparison`` incidents per window;
    ``trend`` applies everywhere after, the changes on top of it (-0.3: a 30 % fall)."""
    def area(mean: float, change: float) -> AreaCounts:
        after = mean * (1 + trend) * (1 + change)
        return AreaCounts(int(rng.poisson(mean)), int(rng.poisson(after)))

    return area(target, target_change), area(buffer, buffer_change), area(comparison, 0.0)



def overdispersed_history(rng: np.random.Generator, *, target: float, comparison: float, dispersion: float,
                          earlier: int, ratio: float = 1.0) -> tuple[AreaCounts, AreaCounts, list[tuple[int, int, None]]]:
    """Target and comparison counts, negative binomial with variance ``mean + mean² / dispersion`` (windows
    vary more than Poisson, as recorded crime does): ``earlier`` earlier windows, then the window before and
    the window after, where the target's mean is multiplied by ``ratio`` (1: no effect).

    Returns (target before/after, comparison before/after, the earlier windows as ``evaluate_intervention``
    takes them)."""
    def draw(mean: float) -> int:
        return int(rng.negative_binomial(dispersion, dispersion / (dispersion + mean)))

    history = [(draw(target), draw(comparison), None) for _ in range(earlier)]
    return (AreaCounts(draw(target), draw(target * ratio)), AreaCounts(draw(comparison), draw(comparison)), history)
