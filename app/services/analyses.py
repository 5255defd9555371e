"""Hotspot runs: validate a request, queue it, execute it, and shape its outputs."""

from __future__ import annotations

import logging
import platform
import secrets
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from app.errors import BadRequest, Conflict, NotFound
from app.store import hotspots as run_store
from spatial.grid import MAX_RESOLUTION, MIN_RESOLUTION, cell_boundaries, cover_communities
from spatial.hotspots import AnalysisParameters, analyse, counts_on_grid

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

    @field_validator("communities", "categories", "sources")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return sorted({v.strip() for v in values if v and v.strip()})

    @model_validator(mode="after")
    def _window(self) -> "AnalysisRequest":
        if self.start and self.end and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


def submit(session: Session, request: AnalysisRequest, *, zone, user_id: int | None) -> int:
    """Check the request against the active boundary set and queue a run."""
    set_id = run_store.active_boundary_set_id(session)
    if set_id is None:
        raise Conflict("No boundary set is active yet. GIS staff must upload and activate community boundaries first.")
    shapes = run_store.community_shapes(session, set_id, request.communities or None)
    missing = sorted(set(request.communities) - {s["name"] for s in shapes})
    if missing:
        raise BadRequest(f"No community of the active set is called {', '.join(map(repr, missing))}.")
    parameters = request.model_dump(mode="json")
    for key in ("start", "end"):
        stamp = getattr(request, key)
        if stamp is not None and stamp.tzinfo is None:
            parameters[key] = stamp.replace(tzinfo=zone).isoformat()
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31 - 1)
    parameters["seed"] = seed
    run_id = run_store.create_run(session, parameters=parameters, seed=seed, boundary_set_id=set_id, user_id=user_id)
    session.commit()
    return run_id


def execute(session: Session, run_id: int) -> None:
    """Run a queued analysis to completion (or failure), committing progress as it goes."""
    if not run_store.claim_run(session, run_id):
        session.rollback()
        return
    session.commit()
    try:
        provenance = _execute(session, run_id)
    except ValueError as exc:  # a planner-facing reason: too few cells, no incidents
        session.rollback()
        run_store.fail_run(session, run_id, str(exc))
        session.commit()
        return
    except Exception:
        session.rollback()
        log.exception("hotspot run %s failed", run_id)
        run_store.fail_run(session, run_id, "The analysis failed on our side; it has been logged.")
        session.commit()
        return
    run_store.complete_run(session, run_id, provenance)
    session.commit()


def _execute(session: Session, run_id: int) -> dict[str, Any]:
    run = run_store.get_run(session, run_id)
    params = run["parameters"]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        run_store.set_progress(session, run_id, stage, fraction)
        session.commit()

    progress("grid", 0.05)
    shapes = run_store.community_shapes(session, run["boundary_set_id"], params["communities"] or None)
    polygons = shapely.from_wkb([s["wkb"] for s in shapes])
    grid = cover_communities(polygons, [s["id"] for s in shapes], params["resolution"])
    timings["grid"] = time.perf_counter() - clock

    progress("counts", 0.2)
    clock = time.perf_counter()
    west, south, east, north = shapely.total_bounds(polygons)
    counted_cells, counted = run_store.counts_per_cell(
        session, resolution=params["resolution"], bbox=(west, south, east, north),
        start=_stamp(params["start"]), end=_stamp(params["end"]),
        categories=params["categories"], sources=params["sources"],
    )
    counts = counts_on_grid(grid.cells, counted_cells, counted)
    timings["counts"] = time.perf_counter() - clock

    parameters = AnalysisParameters(resolution=params["resolution"], k=params["neighbours_k"],
                                    permutations=params["permutations"], seed=run["seed"],
                                    fdr=params["fdr"], alpha=params["alpha"])
    result = analyse(grid, counts, parameters, progress=progress, names={s["id"]: s["name"] for s in shapes})
    timings.update(result.timings)

    progress("storing", 0.85)
    clock = time.perf_counter()
    run_store.store_cells(session, run_id, result.cells, run_store.hexagons_wkb(cell_boundaries(grid.cells)))
    timings["store"] = time.perf_counter() - clock
    names = {s["id"]: s["name"] for s in shapes}
    return {
        "parameters": params,
        "seed": run["seed"],
        "boundary_set_id": run["boundary_set_id"],
        "communities": [{"id": s["id"], "name": s["name"]} for s in shapes],
        "cells": len(grid),
        "incidents_used": int(counts.sum()),
        "incidents_outside_grid": int(counted.sum() - counts.sum()),
        "weights": {"kind": "H3 k-ring", "k": parameters.k, "gi_star": "binary, self included",
                    "moran": "row-standardised", "islands": result.islands, "components": result.components},
        "significance": {
            "gi_bin": "analytic two-sided p of Gi* z" + (", Benjamini–Hochberg FDR" if parameters.fdr else ""),
            "lisa": "conditional-permutation pseudo-p, two-sided (not esda's folded one-sided)"
                    + (", Benjamini–Hochberg FDR" if parameters.fdr else ""),
            "p_sim_kind": "two-sided",
            "alpha": parameters.alpha,
        },
        "moran": result.moran,
        "moran_by_community": {names[k]: v for k, v in result.moran_by_community.items()},
        "warnings": result.warnings,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "versions": _versions(),
    }


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def recover_interrupted(session: Session) -> tuple[list[int], list[int]]:
    """On start-up: fail runs left running by a crash; return them and the queued runs to resume."""
    failed = run_store.fail_interrupted_runs(session)
    session.commit()
    return failed, run_store.queued_run_ids(session)


def run_or_404(session: Session, run_id: int) -> dict[str, Any]:
    run = run_store.get_run(session, run_id)
    if run is None:
        raise NotFound(f"There is no analysis run {run_id}.")
    return run


def neighbourhood_ranking(session: Session, run: dict[str, Any], top: int = 3) -> list[dict[str, Any]]:
    """Communities ranked for targeting.

    Order: incidents inside hot cells (95 % confidence or more), then incidents
    per km². Each entry carries the figures behind its place.
    """
    figures = run_store.neighbourhood_figures(session, run["id"])
    hottest: dict[int, list[dict[str, Any]]] = {}
    for cell in run_store.top_cells(session, run["id"], top):
        hottest.setdefault(cell["community_id"], []).append(
            {"cell": _h3(cell["cell"]), "incidents": cell["incidents"], "gi_z": cell["gi_z"], "gi_bin": cell["gi_bin"]}
        )
    moran = (run.get("provenance") or {}).get("moran_by_community", {})
    ranking = []
    for row in figures:
        incidents = int(row["incidents"] or 0)
        ranking.append({
            "community_id": row["community_id"],
            "community": row["community"],
            "incidents": incidents,
            "area_km2": round(row["area_km2"], 3),
            "incidents_per_km2": round(incidents / row["area_km2"], 2) if row["area_km2"] else None,
            "cells": row["cells"],
            "hot_cells": {"99%": row["hot_99"], "95%": row["hot_95"], "90%": row["hot_90"]},
            "cold_cells": row["cold"],
            "incidents_in_hot_cells": int(row["incidents_in_hot_cells"]),
            "share_in_hot_cells": round(int(row["incidents_in_hot_cells"]) / incidents, 3) if incidents else 0.0,
            "top_cells": hottest.get(row["community_id"], []),
            "moran": moran.get(row["community"]),
        })
    ranking.sort(key=lambda r: (-r["incidents_in_hot_cells"], -(r["incidents_per_km2"] or 0), r["community"]))
    for place, entry in enumerate(ranking, start=1):
        entry["rank"] = place
    return ranking


def _h3(cell: int) -> str:
    import h3

    return h3.int_to_str(int(cell))


def cell_feature(row: dict[str, Any]) -> dict[str, Any]:
    import json

    geometry = json.loads(row.pop("geometry"))
    row["cell"] = _h3(row["cell"])
    return {"type": "Feature", "id": row["cell"], "geometry": geometry, "properties": row}


def finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
