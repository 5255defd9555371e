"""Back-test of a hot-spot run: how well would such a map have predicted the next period here?

For a completed hot-spot run with a period (start and end), the run's hot cells (Gi_Bin 2 or 3, or
the top x % of cells by Gi* z) are scored on the next window of the same length when it is over,
and a few rolling earlier pairs of windows are scored the same way: the same analysis (grid,
weights, inference, seed) made on one window and scored on the next. Every score stands beside
two naive maps of the same area made from the same window: that window's top cells by count, and
a kernel density surface of its counts (Gaussian, bandwidth one cell spacing).

Windows of a run on the publication calendar (whole months, quarters, years: shared runs) move by
calendar months, so partners only ever see calendar periods; other runs move by their length.
A window counts as the run does (its communities, filters, sensitive categories and held-back
days); it is scored only once it is over (and past the held-back days).

Police get the back-test computed on request (windows keep filling as incidents arrive); the default
one (hot cells, three earlier windows) is then kept in the run's provenance under ``backtest``
(RunStore.record_backtest), and that kept copy is all other audiences can see: their requests run as
a database role that cannot read incidents, so they could not count a window anyway. Below analyst
(a shared run): ratios only (hit rate, PAI, PEI with their intervals), never counts or cells, and
each only when the incidents behind it, inside and outside the flagged cells, are both at least k;
a partner limited to some communities sees no back-test (it covers them all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import numpy as np

from app.errors import BadRequest, Conflict, NotFound
from app.privacy import Audience
from app.runs import Run
from app.services import run_results
from app.services.analyses import counts_per_cell
from app.store.backends import Store
from spatial.grid import cell_area_km2
from spatial.hotspots import AnalysisParameters, counts_on_grid, local_statistics
from spatial.kinds import DEFAULT_KIND
from spatial.outcomes import prediction_accuracy, top_area
from spatial.outcomes.accuracy import NotMeasurable
from spatial.outcomes.baselines import kernel_surface, local_metres
from spatial.weights import h3_neighbours

ROLLING_WINDOWS = 3
HOT_CLASS = 2  # Gi_Bin 2 or 3: 95 % confidence or more
REPLICATES = 999
MAPS = ("hot_spot_map", "last_period_top_cells", "kernel_density")
# Below analyst a window's score is shown only as words and a PAI rounded to the nearest half: its
# exact hit rate with an exact interval (n of N) could be solved for n and N, and N of the window the
# run was made on is the run's total, which minus the cells shown gives the hidden ones.
PAI_STEP = 0.5


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class RunGrid:
    """A run's cells (every cell of its grid, zeros included) and what the back-test needs of them."""

    cells: np.ndarray
    gi_bin: np.ndarray
    gi_z: np.ndarray
    area: np.ndarray
    x: np.ndarray
    y: np.ndarray
    spacing: float


def backtest(store: Store, run_id: int, audience: Audience, *, zone: ZoneInfo, top_percent: float | None = None,
             rolling: int = ROLLING_WINDOWS, now: datetime | None = None) -> dict[str, Any]:
    """The back-test of run ``run_id`` as ``audience`` may see it.

    Police get it computed now; the default one (hot cells, ``ROLLING_WINDOWS`` earlier windows) is then
    kept in the run's provenance. Other audiences cannot count incidents (their requests run as a
    database role that cannot read them): they get the kept one of a shared run, ratios only.
    """
    run = run_results.visible_completed_run(store, run_id, audience, waiting="it cannot be back-tested yet")
    if run.kind.name != DEFAULT_KIND:
        raise Conflict(f"Run {run_id} is a {run.kind.name} run; back-tests score hot-spot (Gi*) runs.")
    if not audience.raw:
        return _published_backtest(run, audience, top_percent, rolling)
    result = _computed(store, run, zone=zone, top_percent=top_percent, rolling=rolling, now=now)
    if top_percent is None and rolling == ROLLING_WINDOWS:
        store.runs.record_backtest(run.id, result)
        store.session.commit()
    return result


def _published_backtest(run: Run, audience: Audience, top_percent: float | None, rolling: int) -> dict[str, Any]:
    if audience.communities is not None:
        raise NotFound(f"There is no back-test of run {run.id} for you: it covers communities outside yours.")
    if top_percent is not None or rolling != ROLLING_WINDOWS:
        raise BadRequest("Partners and viewers see the published back-test only: the hot cells (Gi_Bin 2 or 3) "
                         f"and {ROLLING_WINDOWS} earlier windows. Leave out top and rolling.")
    kept = run.provenance.document.get("backtest")
    if not kept:
        raise Conflict(f"The back-test of run {run.id} has not been computed yet; an analyst computes it.")
    windows = [{"map": window.get("map"), "map_window": window.get("map_window"),
                "test_window": window.get("test_window"),
                # whether a window held no incident at all is a count too: "not measured" says neither
                "status": "measured" if window.get("status") == "measured" else "not measured",
                **{name: _published(window[name], audience) for name in MAPS if name in window}}
               for window in kept["windows"]]
    return {**{k: v for k, v in kept.items() if k not in ("windows", "method")}, "windows": windows,
            "method": "hit rate n/N; PAI (n/N)/(a/A) (Chainey, Tompson and Uhlig 2008); shown below analyst as a PAI "
                      f"rounded to the nearest {PAI_STEP:g} and whether its 95 % interval lies above 1 (better than "
                      "chance) or below it, never the counts or the intervals themselves"}


def _computed(store: Store, run: Run, *, zone: ZoneInfo, top_percent: float | None, rolling: int,
              now: datetime | None) -> dict[str, Any]:
    run_id = run.id
    own = _period(run)
    months = _calendar_months(own, zone)
    horizon = (now or datetime.now(UTC)) - timedelta(days=run.parameters.hold_back_days)
    shapes = store.boundaries.community_shapes(run.boundary_set_id, list(run.parameters.communities) or None)
    pairs = [(own, _shifted(own, 1, months))] + [(_shifted(own, -step - 1, months), _shifted(own, -step, months))
                                                 for step in range(rolling)]
    # Each window counted once, as the run counts (its communities and filters); the grid takes in the
    # cells of every window's incidents, as a run's grid takes in the cells of its own, so an incident
    # in a cell the run's grid missed still counts in the total (never flagged).
    counted_windows = {window: counts_per_cell(store, {**dict(run.parameters.document), "start": window.start
                                                       .isoformat(), "end": window.end.isoformat()}, shapes)
                       for pair in pairs for window in pair if window.end <= horizon or window == own}
    grid = _run_grid(store, run, [cells for cells, _ in counted_windows.values()])
    hot = _selection(grid.gi_bin, grid.gi_z, top_percent)
    if not hot.any() and top_percent is not None:
        raise BadRequest(f"The top {top_percent:g} % of run {run_id}'s {len(grid.cells):,} cells is less than one "
                         f"cell, so there is no map to test. Ask for at least {100 / len(grid.cells):.2g} %.")
    if not hot.any():
        raise Conflict(f"Run {run_id} found no hot cells (Gi_Bin 2 or 3), so there is no map to test. "
                       "Ask for the top cells instead, for example ?top=5 for the top 5 % of the area.")

    def counted(window: Window) -> np.ndarray:
        return counts_on_grid(grid.cells, *counted_windows[window])

    windows = [_score(grid, hot, counted(own), *pairs[0], counted, horizon, run.seed or 0,
                      "this run's hot cells")]
    windows += _rolling(run, grid, pairs[1:], counted, horizon, top_percent)
    return {
        "run": run_id,
        "hot_cells": f"top {top_percent:g} % of cells by Gi* z" if top_percent else "Gi_Bin 2 or 3 (95 % or more)",
        "windows": windows,
        "baselines": {"last_period_top_cells": "the window's own top cells by count, the same area",
                      "kernel_density": f"top cells of a Gaussian kernel surface of the window's counts "
                                        f"(bandwidth {grid.spacing:.0f} m, one cell spacing), the same area"},
        "computed_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "computed": "on request for police; the default back-test is then kept in the run's provenance, which "
                    "is what partners and viewers see of a shared run",
        "method": "hit rate n/N; PAI (n/N)/(a/A) (Chainey, Tompson and Uhlig 2008); PEI = PAI / best PAI of the "
                  "same area (Hunt 2016); RRI (Levine 2004); 95 % intervals: exact binomial (Clopper-Pearson) for hit "
                  f"rate and PAI, a percentile bootstrap resampling incidents ({REPLICATES} draws, seeded with the "
                  "run's seed) for PEI and RRI",
    }


def _rolling(run: Run, grid: RunGrid, pairs: list[tuple[Window, Window]], counted, horizon: datetime,
             top_percent: float | None) -> list[dict[str, Any]]:
    """Earlier pairs of windows: the run's analysis made on the first, scored on the second."""
    statistics = AnalysisParameters(resolution=run.parameters.resolution or 9, k=run.parameters.neighbours_k,
                                    permutations=run.parameters.permutations, seed=run.seed or 0,
                                    fdr=run.parameters.fdr, alpha=run.parameters.alpha,
                                    inference=run.parameters.inference)
    graph = h3_neighbours(grid.cells, statistics.k)
    windows = []
    for made, tested in pairs:
        made_counts = counted(made)
        if made_counts.sum() == 0:
            windows.append({"map_window": made.as_dict(), "test_window": tested.as_dict(),
                            "status": "no incidents in the window the map would be made from"})
            continue
        fields = local_statistics(made_counts.astype(float), graph, statistics).fields
        hot = _selection(fields["gi_bin"], fields["gi_z"], top_percent)
        windows.append(_score(grid, hot, made_counts, made, tested, counted, horizon, run.seed or 0,
                              "the same analysis made on the window before"))
    return windows


def _period(run: Run) -> Window:
    start, end = run.parameters.start, run.parameters.end
    if not start or not end:
        raise Conflict(f"Run {run.id} has no {'start' if not start else 'end'} date. A back-test scores windows "
                       "of the run's own length, so the run needs a period: submit it with a start and an end.")
    return Window(datetime.fromisoformat(start), datetime.fromisoformat(end))


def _run_grid(store: Store, run: Run, more_cells: list[np.ndarray]) -> RunGrid:
    """The run's cells and ``more_cells`` (never flagged), with the run's strongest class per cell."""
    rows = list(store.runs.iter_cells(run.id, kind=run.kind))
    stored = np.array([int(r["cell"]) for r in rows], dtype=np.int64)
    cells = np.union1d(stored, np.concatenate([stored, *more_cells]).astype(np.int64))
    # a cell lying in two communities is stored once for each: one cell here, its strongest class
    index = np.searchsorted(cells, stored)
    gi_bin, gi_z = np.zeros(len(cells)), np.full(len(cells), -np.inf)
    np.maximum.at(gi_bin, index, [r["gi_bin"] or 0 for r in rows])
    np.maximum.at(gi_z, index, [-np.inf if r["gi_z"] is None else r["gi_z"] for r in rows])
    resolution = run.parameters.resolution or 9
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells]).reshape(-1, 2)
    x, y = local_metres(centres[:, 1], centres[:, 0])
    return RunGrid(cells, gi_bin, gi_z, cell_area_km2(cells), x, y,
                   math.sqrt(3) * h3.average_hexagon_edge_length(resolution, unit="m"))


def _selection(gi_bin: np.ndarray, gi_z: np.ndarray, top_percent: float | None) -> np.ndarray:
    """Weights of the flagged cells: Gi_Bin >= 2, or the top x % of cells by z (ties shared)."""
    if top_percent is None:
        return (np.asarray(gi_bin) >= HOT_CLASS).astype(float)
    return top_area(gi_z, math.floor(top_percent / 100 * len(gi_z)))


def _calendar_months(window: Window, zone: ZoneInfo) -> int | None:
    """Whole calendar months in the window when it runs from a 1st to a 1st at local midnight, else None."""
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    if any(s.day != 1 or s.time() != datetime.min.time() for s in (start, end)):
        return None
    return (end.year - start.year) * 12 + end.month - start.month


def _shifted(window: Window, steps: int, months: int | None) -> Window:
    """The window ``steps`` lengths later (earlier if negative): by calendar months when it is a calendar period."""
    if months is None:
        length = window.end - window.start
        return Window(window.start + steps * length, window.end + steps * length)
    return Window(_add_months(window.start, steps * months), _add_months(window.end, steps * months))


def _add_months(stamp: datetime, months: int) -> datetime:
    index = stamp.year * 12 + stamp.month - 1 + months
    shifted = stamp.replace(year=index // 12, month=index % 12 + 1)
    # the same local midnight: re-attach the zone so a change of summer time keeps 00:00
    return shifted.replace(tzinfo=stamp.tzinfo)


def _score(grid: RunGrid, flagged: np.ndarray, made_counts: np.ndarray, made: Window, tested: Window, counted,
           horizon: datetime, seed: int, map_name: str) -> dict[str, Any]:
    """One window: the map and the two naive maps of the same area, scored on the test window."""
    shown: dict[str, Any] = {"map": map_name, "map_window": made.as_dict(), "test_window": tested.as_dict()}
    if tested.end > horizon:
        return {**shown, "status": f"not over yet: the test window ends {tested.end:%Y-%m-%d}, "
                                   "and any held-back days must pass"}
    later = counted(tested)
    if later.sum() == 0:
        return {**shown, "status": "no incidents recorded in the test window"}
    area = float(flagged.sum())
    maps = (flagged, top_area(made_counts, area),
            top_area(kernel_surface(grid.x, grid.y, made_counts, grid.spacing), area))
    scored = {name: _accuracy(weights, later, made_counts, grid, seed) for name, weights in zip(MAPS, maps, strict=True)}
    return {**shown, "status": "measured", "flagged_cells": round(area, 2), **scored}


def _accuracy(weights: np.ndarray, later: np.ndarray, earlier: np.ndarray, grid: RunGrid, seed: int) -> dict[str, Any]:
    try:
        result = prediction_accuracy(weights, later, earlier=earlier, area=grid.area, replicates=REPLICATES,
                                     seed=seed)
    except NotMeasurable as exc:
        return {"measured": False, "reason": str(exc)}
    return {**result.as_dict(), "verdict_without_counts": result.verdict(counts=False)}


def _published(figures: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """Ratios only, and only when the incidents in and outside the flagged cells are both at least k:
    otherwise a small count could be solved from them."""
    if "captured" not in figures:
        return {"suppressed": False, **{k: figures[k] for k in ("measured", "reason") if k in figures}}
    inside, outside = figures["captured"], figures["incidents"] - figures["captured"]
    if min(inside, outside) < audience.min_count:
        return {"suppressed": True,
                "reason": "Too few incidents inside or outside the flagged cells to publish this figure."}
    pai = max(PAI_STEP, round(figures["pai"] / PAI_STEP) * PAI_STEP)
    worse = figures["pai_interval"][1] < 1
    verdict = (f"The flagged cells held about {pai:g} times their share of the area's incidents: "
               + ("better than a random map of the same size." if figures["beats_chance"] else
                  "worse than a random map of the same size." if worse else
                  "this cannot be told apart from chance."))
    return {"pai_about": pai, "beats_chance": bool(figures["beats_chance"]), "worse_than_chance": bool(worse),
            "verdict": verdict, "suppressed": False}


BASELINE_WORDS = {"last_period_top_cells": "the same area of last period's top cells",
                  "kernel_density": "a kernel density map of the same area"}


def backtest_words(run: Run, audience: Audience) -> list[str]:
    """The kept back-test of a run in a few sentences for its map page, as ``audience`` may see it
    (police: with counts and intervals; below analyst: the published words and rounded PAIs).

    Never computes (a page view must stay cheap): police are told how to compute it when none is kept.
    Empty when there is nothing this audience may be told (another kind, no period, a scoped partner).
    """
    if run.kind.name != DEFAULT_KIND or not run.parameters.start or not run.parameters.end:
        return []
    if audience.raw:
        shown = run.provenance.document.get("backtest")
        if not shown:
            return [f"Not back-tested yet: GET /api/v1/analyses/{run.id}/backtest scores this map on the next "
                    "period of the same length and keeps the result here."]
    else:
        try:
            shown = _published_backtest(run, audience, None, ROLLING_WINDOWS)
        except (NotFound, Conflict):
            return []
    first, *earlier = shown["windows"]
    test = first["test_window"]
    head = f"Back-test on the next period ({test['start'][:10]} to {test['end'][:10]}): "
    if first.get("status") != "measured":
        return [head + str(first.get("status", "not measured")) + "."]
    hot = first["hot_spot_map"]
    if hot.get("suppressed") or "verdict" not in hot:
        return [head + str(hot.get("reason") or "not measured") + "."]
    lines = [head + hot["verdict"]]
    baselines = [f"{words} PAI {_pai(first[name])}" for name, words in BASELINE_WORDS.items()
                 if _pai(first.get(name) or {}) is not None]
    if baselines:
        lines.append("Beside it: " + "; ".join(baselines) + ".")
    measured = [w for w in earlier if w.get("status") == "measured" and "beats_chance" in w.get("hot_spot_map", {})]
    if measured:
        beat = sum(bool(w["hot_spot_map"]["beats_chance"]) for w in measured)
        lines.append(f"In {beat} of {len(measured)} earlier periods the same analysis beat a random map of the "
                     "same size.")
    return lines


def _pai(figures: dict[str, Any]) -> str | None:
    value = figures.get("pai", figures.get("pai_about"))
    return None if value is None else f"{value:.1f}" if "pai" in figures else f"about {value:g}"
