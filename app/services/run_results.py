"""A run's results as each audience may see them: the run, its cells, the neighbourhood ranking.

Police (analyst and above) see everything. Others see only shared runs at a
coarse enough resolution, a partner only its communities, and no count under k.
"""

from __future__ import annotations

import json
from typing import Any

import h3
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.privacy import Audience
from app.store import hotspots as run_store

# What of a run's provenance below-analyst audiences are shown (no raw counts of what was left out).
SHARED_PROVENANCE = ("parameters", "seed", "audience", "boundary_set_id", "cells", "weights", "significance",
                     "moran", "warnings", "versions")


def run_or_404(session: Session, run_id: int, audience: Audience | None = None) -> dict[str, Any]:
    """The run, or 404 if it does not exist or this audience may not see it."""
    run = run_store.get_run(session, run_id)
    if run is None or (audience is not None and not audience.sees_run(run)):
        raise NotFound(f"There is no analysis run {run_id}.")
    if audience is not None and not audience.raw:
        if run.get("provenance"):
            run["provenance"] = shared_provenance(run["provenance"], audience)
        if audience.communities is not None:
            run["parameters"] = _scoped_parameters(run["parameters"], audience)
    return run


def completed_run(session: Session, run_id: int, audience: Audience) -> dict[str, Any]:
    run = run_or_404(session, run_id, audience)
    if run["status"] != "completed":
        raise Conflict(f"Run {run_id} is {run['status']}; its results are not available.",
                       details={"status": run["status"], "error": run["error"]})
    return run


def visible_runs(session: Session, audience: Audience, *, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    scope = sorted(audience.communities) if audience.communities is not None else None
    runs = run_store.list_runs(session, limit=limit, before_id=before_id,
                               shared_up_to_resolution=None if audience.raw else audience.max_resolution,
                               covering_any_of=scope)
    if scope is not None:
        for run in runs:
            run["parameters"] = _scoped_parameters(run["parameters"], audience)
    return runs


def _scoped_parameters(parameters: dict[str, Any], audience: Audience) -> dict[str, Any]:
    return {**parameters, "communities": [n for n in parameters.get("communities") or []
                                          if audience.sees_community(n)]}


def shared_provenance(provenance: dict[str, Any], audience: Audience) -> dict[str, Any]:
    shown = {k: provenance[k] for k in SHARED_PROVENANCE if k in provenance}
    if audience.communities is not None:  # other communities' names and run-wide figures stay out
        for key in ("warnings", "moran", "cells"):
            shown.pop(key, None)
        if "parameters" in shown:
            shown["parameters"] = _scoped_parameters(shown["parameters"], audience)
    shown["incidents_used"] = audience.total(provenance.get("incidents_used"))
    shown["incidents_used_rounded"] = True
    by_community = provenance.get("moran_by_community") or {}
    shown["moran_by_community"] = {k: v for k, v in by_community.items() if audience.sees_community(k)}
    return shown


def scope_ids(session: Session, run: dict[str, Any], audience: Audience) -> list[int] | None:
    """Community ids of the run a scoped partner may see (None: no limit)."""
    if audience.communities is None:
        return None
    return [c["id"] for c in run_store.community_shapes(session, run["boundary_set_id"], sorted(audience.communities))]


def shape_cell(row: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """Cell id as H3 text; below analyst, a count under k (and the local I it reveals) hidden."""
    row["cell"] = h3.int_to_str(int(row["cell"]))
    if not audience.raw:
        shown = audience.count(row["incidents"])
        row["suppressed"] = shown is None
        row["incidents"] = shown
        if shown is None:  # these could be solved back to the count with the neighbours' counts
            for key in ("lisa_i", "gi_z", "gi_p", "gi_p_sim", "gi_p_fdr", "lisa_p_sim", "lisa_p_fdr"):
                if key in row:
                    row[key] = None
    return row


def cell_feature(row: dict[str, Any], audience: Audience) -> dict[str, Any]:
    geometry = json.loads(row.pop("geometry"))
    row = shape_cell(row, audience)
    return {"type": "Feature", "id": row["cell"], "geometry": geometry, "properties": row}


def neighbourhood_ranking(session: Session, run: dict[str, Any], audience: Audience | None = None,
                          top: int = 3) -> list[dict[str, Any]]:
    """Communities ranked for targeting.

    Order: incidents inside hot cells (95 % confidence or more), then incidents
    per km². The order is worked out on exact figures; below analyst the counts
    under k are then hidden and a partner sees only its own communities.
    """
    figures = run_store.neighbourhood_figures(session, run["id"])
    # A community's incidents are its own (point-in-polygon) under the run's filters, as on its page;
    # runs from before this was recorded fall back to the sum of their cells.
    by_community = (run_store.get_run(session, run["id"])["provenance"] or {}).get("incidents_by_community")
    if by_community is not None:
        for row in figures:
            row["incidents"] = by_community.get(str(row["community_id"]), 0)
    hottest: dict[int, list[dict[str, Any]]] = {}
    for cell in run_store.top_cells(session, run["id"], top):
        hottest.setdefault(cell["community_id"], []).append(
            {"cell": h3.int_to_str(int(cell["cell"])), "incidents": cell["incidents"], "gi_z": cell["gi_z"],
             "gi_bin": cell["gi_bin"]})
    moran = (run.get("provenance") or {}).get("moran_by_community", {})
    ranking = [_ranked(row, hottest.get(row["community_id"], []), moran.get(row["community"])) for row in figures]
    ranking.sort(key=lambda r: (-r["incidents_in_hot_cells"], -(r["incidents_per_km2"] or 0), r["community"]))
    for place, entry in enumerate(ranking, start=1):
        entry["rank"] = place
    if audience is None or audience.raw:
        return ranking
    return _complementary([_safe(entry, audience) for entry in audience.keep(ranking)])


def _complementary(ranking: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With exactly one community's count hidden, hide the smallest shown one too, so the others
    subtracted from a total never give that one small count away."""
    hidden = [e for e in ranking if e["incidents"] is None]
    shown = [e for e in ranking if e["incidents"] is not None]
    if len(hidden) == 1 and shown:
        smallest = min(shown, key=lambda e: e["incidents"])
        smallest.update(incidents=None, incidents_in_hot_cells=None, incidents_per_km2=None,
                        share_in_hot_cells=None, suppressed=True)
    return ranking


def _ranked(row: dict[str, Any], top_cells: list[dict[str, Any]], moran: dict[str, Any] | None) -> dict[str, Any]:
    incidents = int(row["incidents"] or 0)
    in_hot = int(row["incidents_in_hot_cells"])
    return {
        "community_id": row["community_id"],
        "community": row["community"],
        "incidents": incidents,
        "area_km2": round(row["area_km2"], 3),
        "incidents_per_km2": round(incidents / row["area_km2"], 2) if row["area_km2"] else None,
        "cells": row["cells"],
        "hot_cells": {"99%": row["hot_99"], "95%": row["hot_95"], "90%": row["hot_90"]},
        "cold_cells": row["cold"],
        "incidents_in_hot_cells": in_hot,
        "share_in_hot_cells": round(in_hot / incidents, 3) if incidents else 0.0,
        "top_cells": top_cells,
        "moran": moran,
    }


def _safe(entry: dict[str, Any], audience: Audience) -> dict[str, Any]:
    incidents = audience.count(entry["incidents"])
    in_hot = audience.count(entry["incidents_in_hot_cells"])
    entry["suppressed"] = incidents is None or in_hot is None
    entry["incidents"] = incidents
    entry["incidents_in_hot_cells"] = in_hot
    if incidents is None:
        entry["incidents_per_km2"] = None
        entry["share_in_hot_cells"] = None
    elif in_hot is None:
        entry["share_in_hot_cells"] = None
    for cell in entry["top_cells"]:
        cell["incidents"] = audience.count(cell["incidents"])
    return entry
