"""Hotspot runs: validate a request, queue it, execute it, and shape its outputs."""

from __future__ import annotations

import logging
import platform
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy.exc import OperationalError

from app.errors import BadRequest, Conflict
from app.privacy import CLASSED
from app.services import categories, rate_runs, releases, sensitive_categories
from app.settings import Settings
from app.store import hotspots as run_store
from app.store.backends import Store
from app.runs import Run
from app.store.run_counts import RunFilters
from spatial.grid import (
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    CommunityGrid,
    cell_boundaries,
    cover_communities,
    with_incident_cells,
)
from spatial.kinds.base import CellColumns
from spatial.kinds.emerging import EMERGING, EmergingCells
from spatial.kinds.hotspot import HOTSPOT
from spatial.emerging import MAX_STEPS, MIN_STEPS, EmergingParameters, cube_from_counts, emerging_hot_spots
from spatial.emerging.steps import time_steps
from spatial.hotspots import AnalysisParameters, AnalysisRefused, analyse, counts_on_grid
from spatial.rates.community import PER_1000
from spatial.rates.risk import risk_null
from spatial.sensitive import classify

log = logging.getLogger(__name__)

LIBRARIES = ("hotspots", "numpy", "scipy", "h3", "shapely", "esda", "libpysal")


class AnalysisRequest(BaseModel):
    """What a planner asks for. Naming no communities means every community of the active set."""

    communities: list[str] = Field(default_factory=list, description="Community names; empty for all")
    resolution: int = Field(default=9, ge=MIN_RESOLUTION, le=MAX_RESOLUTION,
                            description="H3 resolution (9: ~0.1 km² cells, patrol-beat scale)")
    start: datetime | None = Field(default=None, description="From (inclusive); local time if no offset")
    end: datetime | None = Field(default=None, description="Up to (exclusive); local time if no offset")
    categories: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    neighbours_k: int = Field(default=1, ge=1, le=3, description="k-ring of H3 neighbours")
    permutations: int = Field(default=999, ge=0, le=9999)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="Random seed; one is chosen if absent")
    fdr: bool = Field(default=True, description="Benjamini–Hochberg false-discovery-rate correction")
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="Significance level for LISA labels")
    inference: Literal["conditional", "analytic"] = Field(
        default="conditional",
        description="'conditional' (default): exact conditional-permutation p, calibrated on sparse counts; "
                    "'analytic': Gi_Bin from the normal approximation as ArcGIS does, which over-reports hot "
                    "spots on sparse counts")
    audience: Literal["police", "shared"] = Field(
        default="police", description="'shared' runs leave out sensitive categories and can be shown to partners")
    kind: Literal["hotspot", "emerging"] = Field(
        default="hotspot",
        description="'hotspot': Gi* hot and cold spots and LISA clusters over the whole period; 'emerging': how each "
                    "cell's hot or cold spot changed over the period's time steps (new, intensifying, persistent, …)")
    step: Literal["day", "week", "month", "quarter"] | None = Field(
        default=None, description="Emerging runs: the time step (default month); whole local steps only, at least "
                                  f"{MIN_STEPS}")
    time_lag: int = Field(default=1, ge=0, le=3,
                          description="Emerging runs: earlier steps counted as a bin's neighbours in time")
    value: Literal["incidents", "rate"] = Field(
        default="incidents",
        description="Hotspot runs: 'incidents' (default) finds hot spots of volume; 'rate' finds hot spots of risk: "
                    "each neighbourhood's incidents against its residents, allowing for risk that varies from "
                    "cell to cell without a pattern (the map shows Empirical Bayes rates per 1,000 residents); "
                    "the communities' populations are spread onto the cells by area (needs a population for "
                    "every community analysed)")

    @field_validator("communities", "categories", "sources")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return sorted({v.strip() for v in values if v and v.strip()})

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field's own check, so a refusal names the field ("body.end") for the form to show beside it.
        start = info.data.get("start")
        if start and end and start >= end:
            raise ValueError("start must be before end: the period's first day must come before its last")
        return end

    @field_validator("step")
    @classmethod
    def _step_for_emerging(cls, step: str | None, info: ValidationInfo) -> str | None:
        if step is not None and info.data.get("kind") != "emerging":
            raise ValueError("step is for emerging runs (kind 'emerging'); a hotspot run covers its whole period")
        return step

    @model_validator(mode="after")
    def _window(self) -> AnalysisRequest:
        if self.kind == "emerging":
            self.step = self.step or "month"
        if self.value == "rate" and self.kind != "hotspot":
            raise ValueError("value 'rate' is for hotspot runs (kind 'hotspot'): hot spots of risk per resident")
        return self


def submit(store: Store, request: AnalysisRequest, *, settings: Settings, user_id: int | None) -> int:
    """Check the request against the active boundary set and the privacy rules, and queue a run.

    A shared run must also be on the publication calendar and pass the release log
    (app/services/releases.py): refused with 422 or 409 and what to change.
    """
    _check_audience(store, request, settings)
    request = request.model_copy(update={"categories": categories.resolve(store, request.categories)})
    set_id = store.boundaries.active_boundary_set_id()
    if set_id is None:
        raise Conflict("No boundary set is active yet. GIS staff must upload and activate community boundaries first.",
                       details={"field": "communities"})
    shapes = store.boundaries.community_shapes(set_id, request.communities or None)
    missing = sorted(set(request.communities) - {s["name"] for s in shapes})
    if missing:
        raise BadRequest(f"No community of the active set is called {', '.join(map(repr, missing))}.",
                         details={"field": "communities"})
    parameters = request.model_dump(mode="json")
    for key in ("start", "end"):
        stamp = getattr(request, key)
        if stamp is not None and stamp.tzinfo is None:
            parameters[key] = stamp.replace(tzinfo=settings.zone).isoformat()
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31 - 1)
    parameters["seed"] = seed
    if request.kind != "emerging":
        for key in ("step", "time_lag"):
            parameters.pop(key, None)
    if request.value == "incidents":  # the default, as runs stored before rate runs recorded it
        parameters.pop("value", None)
    else:
        rate_runs.check_populations(store, set_id, shapes)
        parameters["rate_per"] = PER_1000
    # A shared run is counted without sensitive categories and the held-back days, on the calendar.
    shared = request.audience == "shared"
    parameters["hold_back_days"] = settings.privacy_hold_back_days if shared else 0
    if shared:
        parameters["sensitive_categories"] = CLASSED
        start, end = releases.calendar_period(request.start and _local(request.start, settings),
                                              request.end and _local(request.end, settings), zone=settings.zone,
                                              hold_back_days=settings.privacy_hold_back_days)
        parameters["start"], parameters["end"] = start and start.isoformat(), end.isoformat()
    if request.kind == "emerging":
        _whole_steps(parameters, settings)
    if shared:
        cells, counts = counts_per_cell(store, parameters, shapes)
        conflict = releases.release_conflict(
            store, parameters, cells, counts, min_count=store.disclosure.rules()["min_count"], run_id=None,
            count_run=lambda earlier: counts_per_cell(store, earlier, store.boundaries.community_shapes(
                set_id, earlier.get("communities") or None)))
        if conflict:
            raise Conflict(conflict, details={"field": "period"})
    run_id = store.runs.create_run(parameters=parameters, seed=seed, boundary_set_id=set_id,
                                  user_id=user_id, audience=request.audience, kind=request.kind)
    store.session.commit()
    return run_id


def _whole_steps(parameters: dict[str, Any], settings: Settings) -> None:
    """An emerging run counts whole local steps: its period becomes theirs (what is left out is recorded),
    and fewer than ``MIN_STEPS`` is refused now, in words, rather than failing later."""
    def stamp(key: str) -> datetime | None:
        return datetime.fromisoformat(parameters[key]) if parameters.get(key) else None

    if parameters["audience"] == "shared" and parameters["step"] not in ("month", "quarter"):
        raise BadRequest("A shared emerging run steps by month or quarter: its steps must be whole calendar months, "
                         "as every period shown to partners is (shorter steps could be subtracted from them).",
                         details={"field": "step"})
    steps = time_steps(stamp("start"), stamp("end"), parameters["step"], settings.zone)
    if len(steps) > MAX_STEPS:
        raise BadRequest(f"This period holds {len(steps)} whole {parameters['step']}s; an emerging run analyses at most "
                         f"{MAX_STEPS}. Choose a longer step (week, month or quarter) or a shorter period.",
                         details={"field": "period"})
    if len(steps) < MIN_STEPS:
        raise BadRequest(f"Emerging hot spots need at least {MIN_STEPS} whole {parameters['step']}s (as in ArcGIS); "
                         f"this period holds {len(steps)}. Choose a longer period or a shorter step."
                         + (f" {steps.left_out}" if steps.left_out else ""), details={"field": "period"})
    parameters["start"], parameters["end"] = steps.bounds[0].isoformat(), steps.bounds[-1].isoformat()
    parameters["steps"] = list(steps.labels)
    parameters["step_bounds"] = [b.isoformat() for b in steps.bounds]
    parameters["period_note"] = steps.left_out


def _local(stamp: datetime, settings: Settings) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=settings.zone)


def _counts(store: Store, parameters: dict[str, Any], shapes: list[dict[str, Any]]):
    """Incidents per (cell, community) as a run with these parameters counts them: each incident in
    its own community (point-in-polygon at import or activation), under the run's filters."""
    filters = RunFilters.of_run(parameters, [s["id"] for s in shapes])
    return store.counts.counts_per_cell_and_community(filters, parameters["resolution"])


def _per_cell(cells: np.ndarray, communities: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum (cell, community) counts per cell, as a run's cells hold them."""
    unique, first = np.unique(cells, return_index=True)
    return unique, np.add.reduceat(counts, first) if len(counts) else counts


def counts_per_cell(store: Store, parameters: dict[str, Any], shapes: list[dict[str, Any]]):
    """Incidents per cell as a run with these parameters counts them (sorted cell ids, counts)."""
    return _per_cell(*_counts(store, parameters, shapes))


def _check_audience(store: Store, request: AnalysisRequest, settings: Settings) -> None:
    if request.audience != "shared":
        return
    if request.resolution > settings.privacy_max_resolution:
        raise BadRequest(f"A shared run must be at H3 resolution {settings.privacy_max_resolution} or coarser "
                         f"(asked for {request.resolution}): finer cells can point to single addresses.",
                         details={"field": "resolution"})
    terms = sensitive_categories.terms(store)
    sensitive = sorted(c for c in request.categories if classify(c, terms).sensitive)
    if sensitive:
        raise BadRequest(f"A shared run cannot include sensitive categories ({', '.join(sensitive)}).",
                         details={"field": "categories"})


def execute(store: Store, run_id: int, worker: str | None = None) -> None:
    """Run a queued analysis to completion (or failure), committing progress as it goes."""
    if not store.runs.claim_run(run_id, worker):
        store.session.rollback()
        return
    store.session.commit()
    try:
        provenance = _execute(store, run_id)
    except AnalysisRefused as exc:  # a planner-facing reason: too few cells, no incidents
        _record_failure(store, run_id, str(exc))
        return
    except Exception:
        log.exception("hotspot run %s failed", run_id)
        _record_failure(store, run_id, "The analysis failed on our side; it has been logged.")
        return
    store.runs.complete_run(run_id, provenance)
    store.session.commit()


def _record_failure(store: Store, run_id: int, message: str, attempts: int = 3) -> None:
    """Mark the run failed, retrying while the database is busy (the embedded store has one writer);
    if it still cannot, start-up will fail the run as interrupted."""
    for attempt in range(attempts):
        try:
            store.session.rollback()
            store.runs.fail_run(run_id, message)
            store.session.commit()
            return
        except OperationalError:
            log.warning("could not mark run %s failed (attempt %s)", run_id, attempt + 1)
            time.sleep(2**attempt)
    store.session.rollback()
    log.error("run %s is left running; it will be marked interrupted at the next start-up", run_id)


def _execute(store: Store, run_id: int) -> dict[str, Any]:
    run = store.runs.get_run(run_id)
    if run is None:
        raise AnalysisRefused(f"There is no analysis run {run_id}.")
    params = run.parameters
    if params.resolution is None or run.seed is None:
        raise AnalysisRefused(f"Run {run_id} names no H3 resolution or seed; submit it again.")
    resolution = params.resolution
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        store.runs.set_progress(run_id, stage, fraction)
        store.session.commit()

    progress("grid", 0.05)
    shapes = store.boundaries.community_shapes(run.boundary_set_id, list(params.communities) or None)
    polygons = shapely.from_wkb([s["wkb"] for s in shapes])
    grid = cover_communities(polygons, [s["id"] for s in shapes], resolution)
    timings["grid"] = time.perf_counter() - clock

    progress("counts", 0.2)
    clock = time.perf_counter()
    # Counted by each incident's own community (point-in-polygon at import or activation), so a
    # community's total is the same here as on its page; the grid then takes in every cell holding them.
    counted_cells, counted_community, counted = _counts(store, dict(params.document), shapes)
    grid = with_incident_cells(grid, counted_cells, counted_community, counted)
    if run.audience == "shared":  # again now: incidents may have been imported since it was queued
        conflict = releases.release_conflict(
            store, dict(params.document), *_per_cell(counted_cells, counted_community, counted),
            min_count=store.disclosure.rules()["min_count"], run_id=run_id,
            count_run=lambda earlier: counts_per_cell(store, earlier, store.boundaries.community_shapes(
                run.boundary_set_id, earlier.get("communities") or None)))
        if conflict:
            raise AnalysisRefused(conflict)
    counts = counts_on_grid(grid.cells, counted_cells, counted)
    by_community = {str(s["id"]): 0 for s in shapes}
    for community_id, n in zip(counted_community.tolist(), counted.tolist()):
        by_community[str(community_id)] += n
    timings["counts"] = time.perf_counter() - clock

    names = {s["id"]: s["name"] for s in shapes}
    common = {
        "parameters": dict(params.document),
        "seed": run.seed,
        "boundary_set_id": run.boundary_set_id,
        "audience": run.audience,
        "communities": [{"id": s["id"], "name": s["name"]} for s in shapes],
        "cells": len(grid),
        "incidents_used": int(counts.sum()),
        "synthetic": _counts_synthetic(store, list(params.sources)),
        "incidents_outside_grid": int(counted.sum() - counts.sum()),
        # Per community id: its incidents under the run's filters, the figure its ranking shows.
        "incidents_by_community": by_community,
    }
    analysis = _ANALYSES[run.kind.name]
    cells, own, stage_timings = analysis(store, run, shapes, grid, counts, progress, names)
    timings.update(stage_timings)

    progress("storing", 0.85)
    clock = time.perf_counter()
    store.runs.store_cells(run_id, cells, run_store.hexagons_wkb(cell_boundaries(grid.cells)), kind=run.kind)
    # The coarser parents low-zoom tiles draw, now, so no tile request has to write them later.
    store.tiles.fill_cell_parents(run_id, resolution, run.kind)
    timings["store"] = time.perf_counter() - clock
    return {**common, **own, "timings_s": {k: round(v, 4) for k, v in timings.items()}, "versions": _versions()}


# What a kind's analysis is given: the store, the run, its communities, the grid (every cell holding
# an incident of them included), the period's count in each grid cell, a progress callback and
# community names by id. It returns the cells to store (the kind's declared columns), what it adds
# to the provenance, and its stage timings.
Analysis = Callable[[Store, Run, list[dict[str, Any]], CommunityGrid, np.ndarray, Callable[[str, float], None],
                     dict[int, str]], tuple[CellColumns, dict[str, Any], dict[str, float]]]


def _hot_and_cold_spots(store: Store, run: Run, shapes: list[dict[str, Any]], grid: CommunityGrid, counts: np.ndarray,
                        progress: Callable[[str, float], None],
                        names: dict[int, str]) -> tuple[CellColumns, dict[str, Any], dict[str, float]]:
    """Gi* and local Moran over the whole period (spatial/hotspots.py)."""
    params = run.parameters
    parameters = AnalysisParameters(resolution=grid.resolution, k=params.neighbours_k,
                                    permutations=params.permutations, seed=int(run.seed or 0),
                                    fdr=params.fdr, alpha=params.alpha, inference=params.inference)
    risk = rate_runs.cell_risk_of_run(store, run, shapes, grid, counts) if params.document.get("value") == "rate" else None
    result = analyse(grid, counts, parameters, progress=progress, names=names,
                     values=None if risk is None else risk.standardised,
                     null=None if risk is None else risk_null(counts, risk))
    if risk is not None:
        result.cells.residents, result.cells.smoothed_rate = risk.residents, risk.smoothed
    return result.cells, {
        **({} if risk is None else {"rates": risk.summary()}),
        "weights": {"kind": "H3 k-ring", "k": parameters.k, "gi_star": "binary, self included",
                    "moran": "row-standardised", "islands": result.islands, "components": result.components},
        "significance": {**result.significance, "p_sim_kind": "two-sided", "permutation_draws": result.draws_method,
                         "alpha": parameters.alpha},
        "evidence": _evidence(result, names),
        "moran": result.moran,
        "moran_by_community": {names[k]: v for k, v in result.moran_by_community.items()},
        "warnings": result.warnings,
    }, result.timings


def _emerging_hot_spots(store: Store, run: Run, shapes: list[dict[str, Any]], grid: CommunityGrid, counts: np.ndarray,
                        progress: Callable[[str, float], None],
                        names: dict[int, str]) -> tuple[CellColumns, dict[str, Any], dict[str, float]]:
    """Space-time Gi* per cell and step, the Mann-Kendall trend and the pattern of each cell (spatial/emerging)."""
    params = run.parameters
    document = dict(params.document)
    if not document.get("step_bounds"):
        raise AnalysisRefused("This emerging run records no time steps; submit it again.")
    bounds = [datetime.fromisoformat(b) for b in document["step_bounds"]]
    progress("counts per step", 0.3)
    filters = RunFilters.of_run(document, [s["id"] for s in shapes])
    cells, steps, _, counted = store.counts.counts_per_cell_step_and_community(filters, grid.resolution, bounds)
    cube = cube_from_counts(grid.cells, cells, steps, counted, len(bounds) - 1)
    if int(cube.counts.sum()) != int(counts.sum()):  # the steps are the period: one count, two ways
        raise AnalysisRefused("Incidents were imported or removed while this run counted them; run it again.")
    progress("space-time Gi*", 0.45)
    result = emerging_hot_spots(cube, EmergingParameters(
        k=params.neighbours_k, time_lag=int(document.get("time_lag", 1)), alpha=params.alpha, fdr=params.fdr,
        seed=int(run.seed or 0), permutations=max(params.permutations, 999)))
    patterns = dict(zip(*np.unique(result.labels(), return_counts=True)))
    return EmergingCells.of(result, grid.community), {
        "weights": {"kind": "H3 k-ring in space, the same cells in earlier steps in time", "k": params.neighbours_k,
                    "time_lag": int(document.get("time_lag", 1)), "gi_star": "binary, self included"},
        "significance": result.significance,
        "steps": {"step": document.get("step"), "labels": document.get("steps"), "left_out": document.get("period_note"),
                  "incidents": cube.counts.sum(axis=0).tolist()},
        "patterns": {str(label): int(n) for label, n in sorted(patterns.items())},
        # "Too few incidents to conclude", with the figures, for police; below analyst only whether any
        # hot spot bin is shown (run_results.shared_provenance), as for hot and cold spot runs.
        "evidence": {"message": result.message, "hot_cells": int((result.gi.gi_bin >= 2).sum())},
        "warnings": [],
    }, result.timings


_ANALYSES: dict[str, Analysis] = {HOTSPOT.name: _hot_and_cold_spots, EMERGING.name: _emerging_hot_spots}


def _evidence(result, names: dict[int, str]) -> dict[str, Any] | None:
    """Whether the counts allow a conclusion, with communities by name (see spatial.evidence)."""
    if result.evidence is None:
        return None
    evidence = result.evidence.as_dict()
    evidence["communities"] = {names.get(int(k), k): v for k, v in evidence["communities"].items()}
    return evidence


def _counts_synthetic(store: Store, sources: list[str]) -> bool:
    """Whether the run may have counted SYNTHETIC incidents (a demo or benchmark feed), so every
    page and map that shows it can say so."""
    considered = sources or store.imports.import_sources()
    return any("synthetic" in source.lower() for source in considered)


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


# A worker says it is alive this often while it executes a run; one silent for STALE_AFTER is gone.
HEARTBEAT = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=2)


def worker_gone(worker: str | None, heartbeat_at: datetime | None, *, host: str, now: datetime,
                alive: Callable[[int], bool]) -> bool:
    """Whether the worker ("host:pid") of a running run has stopped: a process of this host that no
    longer exists, no heartbeat for ``STALE_AFTER``, or a run from before workers were recorded."""
    if worker is None or heartbeat_at is None:
        return True
    name, _, pid = worker.rpartition(":")
    if name == host and pid.isdigit() and not alive(int(pid)):
        return True
    return heartbeat_at < now - STALE_AFTER


def recover_interrupted(store: Store, *, host: str, alive: Callable[[int], bool],
                        queued_before: datetime | None = None) -> tuple[list[int], list[int]]:
    """Fail the runs whose worker has stopped; return them and the queued runs to take up (all of
    them, or those queued before ``queued_before``, which no live worker has taken)."""
    now = datetime.now(UTC)
    gone = [r["id"] for r in store.runs.running_runs()
            if worker_gone(r["worker"], r["heartbeat_at"], host=host, now=now, alive=alive)]
    failed = store.runs.fail_interrupted_runs(gone)
    store.session.commit()
    queued = (store.runs.queued_run_ids() if queued_before is None
              else store.runs.stale_queued_run_ids(queued_before))
    return failed, queued


def heartbeat(store: Store, run_id: int) -> None:
    store.runs.beat(run_id)
    store.session.commit()
