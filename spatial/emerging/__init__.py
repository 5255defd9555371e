"""Emerging hot spots: where hot spots are new, growing, lasting, fading or on and off.

Pure arrays in, arrays out (statistics ready; not yet offered as a run kind):

1. a space-time cube of counts per cell and step, zeros included (:mod:`.cube`);
2. space-time Gi* of every bin with the exact conditional-permutation p and
   Benjamini–Hochberg over the cube, classed as Esri's Gi_Bin (:mod:`.gi_cube`);
3. the Mann-Kendall trend of each cell's z-scores (:mod:`.trend`);
4. ArcGIS's Emerging Hot Spot categories (:mod:`.categories`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import h3.api.basic_int as h3i
import numpy as np

from spatial.emerging.categories import PATTERNS, category_label, classify
from spatial.emerging.cube import SpaceTimeCube, cube_from_counts, space_time_graph
from spatial.emerging.gi_cube import GLOBAL_WINDOWS, CubeGiStar, cube_gi_star
from spatial.emerging.trend import MannKendall, mann_kendall
from spatial.evidence import POWER_MEAN, suggestion
from spatial.grid import MIN_CELLS_FOR_HOTSPOTS
from spatial.hotspots import AnalysisRefused
from spatial.inference import could_any_pass
from spatial.weights import NeighbourGraph, h3_neighbours

__all__ = [
    "MAX_BINS", "MAX_STEPS", "MIN_STEPS", "PATTERNS", "CubeGiStar", "EmergingParameters", "EmergingResult", "MannKendall", "SpaceTimeCube",
    "category_label", "classify", "cube_from_counts", "cube_gi_star", "emerging_hot_spots", "mann_kendall",
    "space_time_graph",
]

T = TypeVar("T")

#: ArcGIS asks for at least ten time steps: fewer make the 90 % rules and the trend test meaningless.
MIN_STEPS = 10
#: At most: ten years of months, two years of weeks, four months of days (a longer series wants a longer step).
MAX_STEPS = 120
#: Cells x steps a run may analyse: about 4 GB of arrays at most (68,938 cells x 24 steps peaked at 0.6 GB).
MAX_BINS = 4_000_000


@dataclass(frozen=True)
class EmergingParameters:
    """How an emerging hot spot analysis is run.

    ``alpha`` is the level at which a bin counts as a hot or cold spot (its
    FDR-adjusted p below it: Gi_Bin ±2 and ±3 at the default 0.05);
    ``trend_alpha`` that of the Mann-Kendall trend. ``seed`` and
    ``permutations`` serve only the Monte Carlo fallback.
    """

    k: int = 1
    time_lag: int = 1
    global_window: str = "neighbourhood"
    alpha: float = 0.05
    trend_alpha: float = 0.05
    fdr: bool = True
    seed: int = 0
    permutations: int = 9999

    def __post_init__(self) -> None:
        if self.global_window not in GLOBAL_WINDOWS:
            raise ValueError(f"global_window must be one of {GLOBAL_WINDOWS}, got {self.global_window!r}")
        if self.time_lag < 0:
            raise ValueError(f"time_lag must be >= 0, got {self.time_lag}")


@dataclass
class EmergingResult:
    """Per bin (cells × steps): ``gi``; per cell: ``trend`` and ``category`` (signed codes)."""

    cells: np.ndarray
    counts: np.ndarray
    gi: CubeGiStar
    trend: MannKendall
    category: np.ndarray
    significance: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    message: str | None = None

    def labels(self) -> np.ndarray:
        """Each cell's category in words ("Intensifying hot spot", …)."""
        names = {code: category_label(code) for code in np.unique(self.category).tolist()}
        return np.array([names[code] for code in self.category.tolist()], dtype=object)


def _refuse_if_too_small(cube: SpaceTimeCube) -> None:
    if len(cube) < MIN_CELLS_FOR_HOTSPOTS:
        raise AnalysisRefused(f"The area analysed has {len(cube)} cells; emerging hot spots need at least "
                              f"{MIN_CELLS_FOR_HOTSPOTS}. Choose a finer resolution or more communities.")
    if cube.steps < MIN_STEPS:
        raise AnalysisRefused(f"The period has {cube.steps} time steps; emerging hot spots need at least {MIN_STEPS} "
                              "(as in ArcGIS). Choose a longer period or a shorter step.")
    if cube.counts.size > MAX_BINS:
        raise AnalysisRefused(f"{len(cube):,} cells over {cube.steps} steps are {cube.counts.size:,} cells-and-steps; "
                              f"an emerging run analyses at most {MAX_BINS:,}. Choose a coarser resolution, fewer "
                              "communities, a longer step or a shorter period.")
    if cube.counts.sum() <= 0:
        raise AnalysisRefused("No incidents fall in the cells analysed in this period, so there is nothing to analyse.")


def sparse_cube_message(cube: SpaceTimeCube, could_pass: bool, significant_bins: int) -> str | None:
    """Plain words when the counts are too sparse for a quiet map to mean "no emerging hot spot".

    As for one-snapshot runs (:mod:`spatial.evidence`): when no bin could be
    significant whatever the arrangement, or none is and there is less than
    ``POWER_MEAN`` incident a bin (a cell in a step), below which planted
    clusters were mostly missed.
    """
    incidents, bins = int(cube.counts.sum()), cube.counts.size
    mean = incidents / bins
    if could_pass and (significant_bins or mean >= POWER_MEAN):
        return None
    reason = ("No arrangement of so few incidents could be significant." if not could_pass else
              "None was found, but a real one this sparse would often be missed, so this does not show there is none.")
    coarser, longer = suggestion(mean, int(h3i.get_resolution(int(cube.cells[0]))))
    longer_fits = longer is not None and longer > 0 and cube.steps // longer >= MIN_STEPS  # never advise a refusal
    options = ([f"a time step about {longer} times longer"] if longer_fits else
               ["a longer period with the same time step"] if longer else []) + (
        [f"a coarser grid (resolution {coarser})"] if coarser is not None else [])
    return (f"Too few incidents to find emerging hot spots: {incidents} incidents over {len(cube)} cells and "
            f"{cube.steps} steps ({mean:.2f} a cell a step). {reason}"
            + (f" Try {' or '.join(options)}." if options else ""))


def emerging_hot_spots(cube: SpaceTimeCube, params: EmergingParameters = EmergingParameters(),
                       spatial: NeighbourGraph | None = None) -> EmergingResult:
    """Cube → space-time Gi* per bin → Mann-Kendall per cell → emerging hot spot category per cell.

    ``spatial`` (the cells' k-ring graph) is built from ``cube.cells`` when not given.

    Raises
    ------
    AnalysisRefused
        Fewer than 30 cells, fewer than 10 steps, or no incident at all.
    """
    _refuse_if_too_small(cube)
    timings: dict[str, float] = {}

    def timed(stage: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        value = work()
        timings[stage] = round(time.perf_counter() - started, 4)
        return value

    graph = spatial if spatial is not None else timed("weights", lambda: h3_neighbours(cube.cells, k=params.k))
    gi = timed("gi_star", lambda: cube_gi_star(cube, graph, time_lag=params.time_lag,
                                               global_window=params.global_window, fdr=params.fdr,
                                               seed=params.seed, permutations=params.permutations))
    trend = timed("mann_kendall", lambda: mann_kendall(gi.z))
    with np.errstate(invalid="ignore"):
        significant = gi.p_fdr < params.alpha
    category = timed("categories", lambda: classify(significant & (gi.direction > 0), significant & (gi.direction < 0),
                                                    trend.s, trend.p, params.trend_alpha))
    could_pass = could_any_pass(gi.smallest_p.ravel(), params.alpha, params.fdr)
    significance = {
        "bins": "two-sided exact conditional-permutation p of each bin's space-time neighbourhood, ties counted as "
                "at least as extreme" + (", Benjamini–Hochberg over every bin of the cube" if params.fdr else ""),
        "global_window": params.global_window, "time_lag": params.time_lag, "k": params.k,
        "alpha": params.alpha, "trend": "Mann-Kendall on each cell's Gi* z-scores, ties corrected, two-sided",
        "trend_alpha": params.trend_alpha, "methods": sorted(set(gi.methods)), "could_any_pass": could_pass,
    }
    return EmergingResult(cells=cube.cells, counts=cube.counts, gi=gi, trend=trend, category=category,
                          significance=significance, timings=timings,
                          message=sparse_cube_message(cube, could_pass, int(significant.sum())))
