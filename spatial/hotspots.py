"""One hotspot analysis on a grid: Gi*, local Moran and global Moran, with FDR.

Pure arrays in, arrays out; the service stores what this returns. The run's
grid covers every community analysed and neighbours cross community borders
inside it (crime does not stop at a boundary line); global Moran's I is given
for the whole grid and for each community on its own cells.

Significance, as recorded in every run's provenance (``inference``):

- ``"conditional"`` (the default): the two-sided exact conditional-permutation
  p of each cell's neighbourhood (:mod:`spatial.inference`: every
  arrangement of the other cells' counts, ties counted as at least as
  extreme; for values that are not counts, such as smoothed rates, sequential
  Monte Carlo with enough draws for the grid, :mod:`spatial.sequential`). Gi* and local
  Moran are both monotone in the neighbours' sum, so one p serves both: the
  Gi_Bin class takes its sign from the tail (hot: upper, cold: lower), the
  LISA label its quadrant. Benjamini–Hochberg FDR when ``fdr`` is on.
- ``"analytic"`` (on request only): Gi_Bin from the analytic normal p of Gi*'s
  z, as ArcGIS does, and LISA labels from esda-style pseudo-p. It over-reports
  on sparse counts (bench/calibration.py): never the default.
- Cells with no neighbour in the grid get no statistic (NaN, "No neighbours").

When the counts are too sparse for any cell to be significant, the result
says so in plain words (:class:`Evidence`) instead of showing an empty map.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatial.evidence import Evidence, assess_evidence
from spatial.grid import MIN_CELLS_FOR_HOTSPOTS, CommunityGrid
from spatial.inference import LocalTails
from spatial.rates.risk_inference import POISSON_GAMMA, POISSON_GAMMA_WORDS
from spatial.sequential import SEQUENTIAL, calibrated_tails, draws_used
from spatial.significance import fdr_bh, gi_bin, gi_bin_from_tails, lisa_label, lisa_label_from_tails
from spatial.stats import LocalMoranResult, gi_star, local_moran, moran_global
from spatial.weights import NeighbourGraph, h3_neighbours

# LISA label of a cell when the run asked for no permutations (so no pseudo-p).
NOT_TESTED = "Not tested"
INFERENCES = ("conditional", "analytic")

Progress = Callable[[str, float], None]
# Tails of every cell from the neighbour graph, under a null other than the conditional permutation one
Null = Callable[[NeighbourGraph], LocalTails]


class AnalysisRefused(ValueError):
    """The data cannot give a meaningful result (too few cells, no incidents); the message is for planners."""


@dataclass(frozen=True)
class AnalysisParameters:
    resolution: int = 9
    k: int = 1
    permutations: int = 999
    seed: int = 0
    fdr: bool = True
    alpha: float = 0.05
    inference: str = "conditional"

    def __post_init__(self) -> None:
        if self.inference not in INFERENCES:
            raise ValueError(f"inference must be one of {INFERENCES}, got {self.inference!r}")


@dataclass
class CellResults:
    cells: np.ndarray
    community: np.ndarray
    incidents: np.ndarray
    gi_z: np.ndarray
    gi_p: np.ndarray
    gi_p_sim: np.ndarray
    gi_p_fdr: np.ndarray
    gi_bin: np.ndarray
    lisa_i: np.ndarray
    lisa_quadrant: np.ndarray
    lisa_p_sim: np.ndarray
    lisa_p_fdr: np.ndarray
    lisa_label: np.ndarray
    # Rate runs: residents per cell and the smoothed rate shown (NaN, stored empty, for runs of counts)
    residents: np.ndarray | None = None
    smoothed_rate: np.ndarray | None = None

    def __post_init__(self) -> None:
        empty = np.full(len(self.cells), np.nan)
        self.residents = empty if self.residents is None else self.residents
        self.smoothed_rate = empty.copy() if self.smoothed_rate is None else self.smoothed_rate

    def __len__(self) -> int:
        return len(self.cells)


@dataclass
class AnalysisResult:
    cells: CellResults
    moran: dict[str, Any] | None
    moran_by_community: dict[int, dict[str, Any]]
    islands: int
    components: int
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    draws_method: str = ""
    significance: dict[str, Any] = field(default_factory=dict)
    evidence: Evidence | None = None


def counts_on_grid(grid_cells: np.ndarray, counted_cells: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Place per-cell counts (from the store) on the grid; cells with none get 0.

    Counts in cells outside the grid (incidents outside every community analysed)
    are dropped.
    """
    counts = np.zeros(len(grid_cells), dtype=np.int64)
    if len(counted_cells) == 0:
        return counts
    position = np.searchsorted(grid_cells, counted_cells)
    position = np.clip(position, 0, len(grid_cells) - 1)
    on_grid = grid_cells[position] == counted_cells
    np.add.at(counts, position[on_grid], counted[on_grid])
    return counts


def analyse(grid: CommunityGrid, counts: np.ndarray, params: AnalysisParameters,
            progress: Progress | None = None, names: dict[int, str] | None = None,
            values: np.ndarray | None = None, null: Null | None = None) -> AnalysisResult:
    """Run Gi*, local Moran and global Moran on ``counts`` over ``grid``.

    ``values``, when given, is what the statistics are computed on instead of the counts (one per
    cell: standardised rates for hot spots of risk, :mod:`spatial.rates.risk`); the counts are still
    stored and judge whether there is enough data. ``null``, when given, makes each cell's tails (the
    p-values) from the neighbour graph instead of the conditional permutation test (rate runs: the
    permutation of standardised rates, :mod:`spatial.rates.risk_inference`).

    Raises
    ------
    AnalysisRefused
        When the grid has fewer than 30 cells or no incident at all.
    """
    report = progress or (lambda stage, fraction: None)
    if len(grid) < MIN_CELLS_FOR_HOTSPOTS:
        raise AnalysisRefused(
            f"The area analysed has {len(grid)} cells at resolution {grid.resolution}; hotspot statistics need "
            f"at least {MIN_CELLS_FOR_HOTSPOTS}. Choose a finer resolution or more communities."
        )
    y = counts.astype(np.float64) if values is None else np.asarray(values, dtype=np.float64)
    if counts.sum() <= 0:
        raise AnalysisRefused("No incidents fall in the cells analysed for these filters, so there is nothing to analyse.")
    timings: dict[str, float] = {}

    def timed(name: str, fraction: float, work):
        report(name, fraction)
        started = time.perf_counter()
        value = work()
        timings[name] = round(time.perf_counter() - started, 4)
        return value

    graph = timed("weights", 0.35, lambda: h3_neighbours(grid.cells, k=params.k))
    local = local_statistics(y, graph, params, timed, null=null)
    cells = CellResults(cells=grid.cells, community=grid.community, incidents=counts.astype(np.int64),
                        **local.fields)
    moran = (timed("moran_global", 0.7, lambda: _moran_summary(y, graph, params)) if np.ptp(y) > 0
             else {"message": "Every cell has the same count: there is no variation to measure."})
    by_community = timed("moran_by_community", 0.75, lambda: _moran_by_community(grid, y, params, names or {}))
    evidence = assess_evidence(grid, counts, cells.gi_bin, local.smallest_p, alpha=params.alpha, fdr=params.fdr,
                               names=names or {})
    warnings = []
    if len(graph.islands):
        warnings.append(f"{len(graph.islands)} cells have no neighbour in the grid and get no statistic.")
    warnings += [v["message"] for v in by_community.values() if "message" in v]
    return AnalysisResult(cells=cells, moran=moran, moran_by_community=by_community,
                          islands=int(len(graph.islands)), components=graph.n_components,
                          timings=timings, warnings=warnings, draws_method=local.draws_method,
                          significance=local.significance, evidence=evidence)


@dataclass
class LocalStatistics:
    """Gi* and local Moran per cell with their p-values and classes (the per-cell fields of a run).

    ``fields`` holds the arrays of :class:`CellResults` other than the cell, community and count;
    ``smallest_p`` each cell's power ceiling (None for the analytic inference).
    """

    fields: dict[str, np.ndarray]
    significance: dict[str, Any]
    draws_method: str
    smallest_p: np.ndarray | None


def _untimed(name: str, fraction: float, work):
    return work()


def local_statistics(y: np.ndarray, graph, params: AnalysisParameters, timed=_untimed,
                     null: Null | None = None) -> LocalStatistics:
    """Gi*, local Moran, their p-values and classes for ``y`` on ``graph``, by ``params.inference``
    (or by ``null``, which makes the tails from the graph)."""
    y = np.asarray(y, dtype=np.float64)
    if null is not None:
        tails = timed("risk_p", 0.45, lambda: null(graph))
        return _conditional_local(y, graph, tails, params, timed)
    if params.inference == "analytic":
        return _analytic_local(y, graph, params, timed)
    tails = timed("conditional_p", 0.45, lambda: calibrated_tails(
        y, graph, seed=params.seed, alpha=params.alpha, permutations=max(params.permutations, 999)))
    return _conditional_local(y, graph, tails, params, timed)


def _conditional_local(y, graph, tails: LocalTails, params: AnalysisParameters, timed) -> LocalStatistics:
    """Cells classed by the calibrated conditional p (the default)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # z is undefined when every cell is equal
        # Gi*'s z is unchanged by adding a constant; Gi* itself wants a positive total, which standardised
        # rates (centred on 0) do not have
        shifted = y - y.min() + 1.0 if y.min() < 0 else y
        gi = timed("gi_star", 0.55, lambda: gi_star(shifted, graph, seed=params.seed, permutations=0))
    if np.ptp(y) == 0:  # nothing stands out: I_i is 0 everywhere (esda's quadrant 3) and p is 1
        lisa = LocalMoranResult(I=np.where(gi.island, np.nan, 0.0), quadrant=np.where(gi.island, 0, 3),
                                p_sim=tails.p, p_sim_folded=tails.p, larger=np.full(len(y), -1),
                                island=gi.island, permutations=0, seed=params.seed, draws_method="")
    else:
        lisa = timed("local_moran", 0.6, lambda: local_moran(y, graph, seed=params.seed, permutations=0))
    # I_i is 0 when the cell (whatever its neighbours) or its neighbours sit exactly at the mean: never
    # labelled (conservative where only the lag is at the mean).
    lisa_p = np.where(np.isnan(lisa.I), np.nan, np.where(lisa.I == 0, 1.0, tails.p))
    gi_p_fdr = fdr_bh(tails.p) if params.fdr else tails.p
    lisa_p_fdr = fdr_bh(lisa_p) if params.fdr else lisa_p
    # Rate runs: the z shown is the test's own (its sign is the tail's), so a class never sits beside a
    # z of the other sign
    gi_z, gi_p = (gi.z, gi.p_norm) if tails.z is None else (tails.z, tails.p)
    fields = dict(
        gi_z=gi_z, gi_p=gi_p, gi_p_sim=tails.p, gi_p_fdr=gi_p_fdr,
        gi_bin=gi_bin_from_tails(tails.direction, gi_p_fdr),
        lisa_i=lisa.I, lisa_quadrant=lisa.quadrant, lisa_p_sim=lisa_p, lisa_p_fdr=lisa_p_fdr,
        lisa_label=lisa_label_from_tails(lisa.quadrant, tails.direction, lisa_p_fdr, alpha=params.alpha),
    )
    tested = ~np.isnan(tails.p)
    significance = {
        "inference": "conditional",
        "method": tails.method,
        "gi_bin": (POISSON_GAMMA_WORDS if tails.method == POISSON_GAMMA else
                   "two-sided conditional-permutation p of the neighbourhood's incidents"
                   + (" (exact: every arrangement counted)" if tails.permutations is None else ""))
                  + ", ties counted as at least as extreme; sign from the tail (upper: hot, lower: cold)"
                  + (", Benjamini–Hochberg FDR" if params.fdr else ""),
        "lisa": ("the same two-sided p, quadrant from the Empirical Bayes standardised rates"
                 if tails.method == POISSON_GAMMA
                 else "the same two-sided conditional p (local Moran is monotone in the neighbourhood's incidents)")
                + (", Benjamini–Hochberg FDR" if params.fdr else ""),
        "permutations_per_cell": ("none (negative binomial)" if tails.method == POISSON_GAMMA else
                                  "exact (all arrangements)" if tails.permutations is None else tails.permutations),
        **({"gi_z": "normal score of the same two-sided p, signed by the tail",
            "risk_spread_cv2": round(tails.risk_spread, 6)} if tails.method == POISSON_GAMMA
           and tails.risk_spread is not None else {}),
        **({"draws": draws_used(tails)} if tails.method == SEQUENTIAL else {}),
        "smallest_reachable_p": float(np.nanmin(tails.smallest_p)) if tested.any() else None,
        "cells_tested": int(tested.sum()),
    }
    return LocalStatistics(fields, significance, tails.method, tails.smallest_p)


def _analytic_local(y, graph, params: AnalysisParameters, timed) -> LocalStatistics:
    """Cells classed as ArcGIS does (analytic p of z) and LISA by esda-style pseudo-p: on request only."""
    gi = timed("gi_star", 0.45, lambda: gi_star(y, graph, seed=params.seed, permutations=params.permutations))
    lisa = timed("local_moran", 0.6, lambda: local_moran(y, graph, seed=params.seed, permutations=params.permutations))
    gi_p_fdr = fdr_bh(gi.p_norm) if params.fdr else gi.p_norm
    lisa_p_fdr = fdr_bh(lisa.p_sim) if params.fdr else lisa.p_sim
    fields = dict(
        gi_z=gi.z, gi_p=gi.p_norm, gi_p_sim=gi.p_sim, gi_p_fdr=gi_p_fdr, gi_bin=gi_bin(gi.z, gi_p_fdr),
        lisa_i=lisa.I, lisa_quadrant=lisa.quadrant, lisa_p_sim=lisa.p_sim, lisa_p_fdr=lisa_p_fdr,
        lisa_label=_lisa_labels(lisa, lisa_p_fdr, params),
    )
    significance = {
        "inference": "analytic",
        "method": "analytic normal p (Gi_Bin) and esda-style pseudo-p (LISA)",
        "gi_bin": "analytic two-sided p of Gi* z" + (", Benjamini–Hochberg FDR" if params.fdr else ""),
        "lisa": "conditional-permutation pseudo-p, two-sided (not esda's folded one-sided), ties not counted"
                + (", Benjamini–Hochberg FDR" if params.fdr else ""),
        "note": "The analytic p over-reports hot spots on sparse counts (bench/calibration.py); "
                "the default inference is 'conditional'.",
        "permutations_per_cell": params.permutations,
        "smallest_reachable_p": (2.0 / (params.permutations + 1)) if params.permutations else None,
    }
    return LocalStatistics(fields, significance, gi.draws_method, None)


def _lisa_labels(lisa, p: np.ndarray, params: AnalysisParameters) -> np.ndarray:
    labels = lisa_label(lisa.quadrant, p, alpha=params.alpha)
    if params.permutations == 0:  # no pseudo-p at all: say so rather than "No neighbours"
        labels[~lisa.island] = NOT_TESTED
    return labels


def _moran_summary(y: np.ndarray, graph, params: AnalysisParameters) -> dict[str, Any]:
    result = moran_global(y, graph, seed=params.seed, permutations=params.permutations)
    return {
        "I": result.I, "expected_I": result.expected, "z": result.z_norm, "p_norm": result.p_norm,
        "z_randomisation": result.z_rand, "p_randomisation": result.p_rand,
        "p_sim": result.p_sim, "p_sim_kind": result.p_sim_kind, "permutations": result.permutations,
        "at_least_as_large": result.larger, "at_most_as_large": result.smaller, "ties": result.tie_rule,
    }


def _moran_by_community(grid: CommunityGrid, y: np.ndarray, params: AnalysisParameters,
                        names: dict[int, str]) -> dict[int, dict[str, Any]]:
    """Global Moran's I of each community on its own cells and neighbours within it."""
    results: dict[int, dict[str, Any]] = {}
    for community_id, n_cells in grid.cells_per_community().items():
        if n_cells < MIN_CELLS_FOR_HOTSPOTS:
            name = names.get(community_id, f"Community {community_id}")
            results[community_id] = {"cells": n_cells, "message": (
                f"{name} has only {n_cells} cells at resolution {grid.resolution}; a Moran's I of its own needs "
                f"at least {MIN_CELLS_FOR_HOTSPOTS} (Esri's minimum). Its cells are still in the run's hotspot map."
            )}
            continue
        mask = grid.community == community_id
        values = y[mask]
        if np.ptp(values) == 0:  # no incident at all, or (rates) nothing differs from the overall rate
            results[community_id] = {"cells": n_cells, "message": "No variation in incidents across its cells."}
            continue
        sub_graph = h3_neighbours(grid.cells[mask], k=params.k)
        if len(sub_graph.islands) == n_cells:
            results[community_id] = {"cells": n_cells, "message": "Its cells have no neighbours within it."}
            continue
        results[community_id] = {"cells": n_cells, **_moran_summary(values, sub_graph, params)}
    return results
