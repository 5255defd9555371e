"""A run's results as each audience may see them: the run, its cells, the neighbourhood ranking.

Police (analyst and above) see everything. Others see only shared runs at a
coarse enough resolution, a partner only its communities, and no count under k.
``visible_completed_run`` is the one rule for "a run this audience may see, and
completed" that the API, the tiles and the map pages use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import h3

from app.errors import Conflict, NotFound
from app.formats import About, Feature
from app.privacy import Audience
from app.runs import Run, RunListFilters, RunParameters
from app.services import run_words
from app.store.backends import Store
from spatial.evidence import NO_HOT_SPOT_NOTE
from spatial.kinds import AnalysisKind

# What of a run's provenance below-analyst audiences are shown: no count, and no statistic
# computed from exact counts (Moran's I), from which suppressed counts could be solved.
SHARED_PROVENANCE = ("parameters", "seed", "audience", "boundary_set_id", "cells", "weights", "significance",
                     "warnings", "versions", "patterns")


def visible_run(store: Store, run_id: int, audience: Audience | None = None) -> Run:
    """The run, or 404 if it does not exist or this audience (None: police) may not see it."""
    run = store.runs.get_run(run_id)
    if run is None or (audience is not None and not audience.sees_run(run)):
        raise NotFound(f"There is no analysis run {run_id}.")
    return run


def visible_completed_run(store: Store, run_id: int, audience: Audience | None = None, *,
                          waiting: str = "its results are not available") -> Run:
    """The run if this audience may see it (else 404, whatever its state) and it has completed (else
    409 saying its state; ``waiting`` says what waits for it)."""
    run = visible_run(store, run_id, audience)
    if not run.completed:
        raise Conflict(f"Run {run_id} is {run.status}; {waiting}.",
                       details={"status": run.status, "error": run.error})
    return run


def run_record(run: Run, audience: Audience | None = None) -> dict[str, Any]:
    """The run as the API shows it to ``audience``: below analyst the shared provenance only, and a
    scoped partner's communities only."""
    record = run.record()
    if audience is not None and not audience.raw:
        if record["provenance"]:
            record["provenance"] = shared_provenance(record["provenance"], audience)
        if audience.communities is not None:
            record["parameters"] = dict(run.parameters.scoped(audience.sees_community).document)
    return record


def step_labels(run: Run) -> list[str]:
    """The time steps of a run drawn one step at a time (emerging hot spots), oldest first; else none."""
    return list(run.parameters.document.get("steps") or []) if run.kind.stepped_field else []


def run_facts(run: Run, audience: Audience | None) -> list[str]:
    """The run's provenance line, in parts: resolution, cells, incidents (police only), dates, finished.

    ``audience`` None: police. Below analyst no total is given, and a partner limited to some communities
    is not told the run's cell count (a figure of the other communities)."""
    params = run.parameters
    provenance = run.provenance
    window = " – ".join(str(v or "…")[:10] for v in (params.start, params.end)) if (
        params.start or params.end) else "all dates"
    used = provenance.incidents_used if "incidents_used" in provenance.document else 0
    if audience is not None and not audience.raw:
        # Even rounded, the run's total minus the cells shown would bound the hidden ones.
        incidents = "total not published"
    else:
        incidents = f"{used:,} incidents"
    scoped = audience is not None and audience.communities is not None
    facts = [f"H3 resolution {params.resolution}", *([] if scoped else [f"{provenance.cells:,} cells"]), incidents,
             window]
    steps = step_labels(run)
    if steps:
        facts.append(f"{len(steps)} {params.document.get('step', 'step')}s, {steps[0]} to {steps[-1]}")
    if run.finished_at is not None:
        facts.append(f"finished {run.finished_at:%Y-%m-%d %H:%M}")
    return facts


def cells_about(run: Run, audience: Audience, stem: str) -> About:
    """What a file of a run's cells says about itself: the run, its provenance line, the privacy tier."""
    synthetic = "SYNTHETIC incidents (a demonstration, not police data); " if run.synthetic else ""
    changed = f"data changed since this run: {run.data_changed}; " if run.data_changed else ""
    title = run_words.run_title(run)
    return About(name=stem, title=f"{title}: cells",
                 provenance=synthetic + changed + f"{title} · " + " · ".join(run_facts(run, audience)),
                 privacy=audience.tier_note(DISCLOSURE_NOTE))


def visible_runs(store: Store, audience: Audience, *, limit: int, before_id: int | None,
                 filters: RunListFilters | None = None, community: str | None = None) -> list[Run]:
    """The newest runs this audience may see (a scoped partner's: with its communities only).

    The store's filter is coarse (shared, resolution, communities); every run listed also passes
    ``Audience.sees_run``, the rule that opening it applies, so the list never shows a run that
    would then answer 404. Pages are refilled past the runs left out, so paging stays whole.
    ``filters`` and ``community`` (runs of every community or naming it) narrow the list; police
    listings carry who ran each run."""
    scope = sorted(audience.communities) if audience.communities is not None else None
    covering = scope
    if community is not None:
        if scope is not None and community not in scope:
            return []
        covering = [community]
    runs: list[Run] = []
    cursor = before_id
    while len(runs) < limit:
        batch = store.runs.list_runs(limit=limit, before_id=cursor,
                                     shared_up_to_resolution=None if audience.raw else audience.max_resolution,
                                     covering_any_of=covering, filters=filters, with_creator=audience.raw)
        runs += [run for run in batch if audience.sees_run(run)]
        if len(batch) < limit:
            break
        cursor = batch[-1].id
    runs = runs[:limit]
    if scope is None:
        return runs
    return [replace(run, parameters=run.parameters.scoped(audience.sees_community)) for run in runs]


def shared_provenance(provenance: Mapping[str, Any], audience: Audience) -> dict[str, Any]:
    shown = {k: provenance[k] for k in SHARED_PROVENANCE if k in provenance}
    if audience.communities is not None:  # other communities' names and run-wide figures stay out
        for key in ("warnings", "cells", "patterns"):
            shown.pop(key, None)
        if "parameters" in shown:
            shown["parameters"] = dict(RunParameters.from_document(shown["parameters"])
                                       .scoped(audience.sees_community).document)
    # The exact total minus the cells shown would bound the hidden ones, even rounded: left out.
    shown["incidents_used"] = None
    shown["disclosure_control"] = DISCLOSURE_NOTE
    if "significance" in shown:  # a p reachable only by the largest counts (or whether any p could pass) is a figure of them
        shown["significance"] = {k: v for k, v in shown["significance"].items()
                                 if k not in ("smallest_reachable_p", "could_any_pass")}
    evidence = provenance.get("evidence")
    if evidence and audience.communities is None:
        # From the published classes only (whether a 95 % hot spot is shown): whether the counts were
        # "too few" is a threshold on exact counts and would bound the hidden ones.
        shown["evidence"] = {"message": None if evidence.get("hot_cells") else NO_HOT_SPOT_NOTE}
    return shown


DISCLOSURE_NOTE = ("Counts under the privacy threshold are hidden; only the Gi_Bin and LISA classes are "
                   "published, never z-scores, p-values or Moran's I; every sum counts the cells shown only.")


def sparse_verdicts(run: Run) -> dict[str, str]:
    """Community name -> "too few incidents to conclude", with its figures (police only)."""
    return dict((run.provenance.evidence or {}).get("communities") or {})


def scope_ids(store: Store, run: Run, audience: Audience) -> list[int] | None:
    """Community ids of the run a scoped partner may see (None: no limit)."""
    if audience.communities is None:
        return None
    return [c["id"] for c in store.boundaries.community_shapes(run.boundary_set_id, sorted(audience.communities))]


def shape_cell(row: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """Cell id as H3 text; below analyst the row is a published cell (``published_cells``: no
    statistic at all, a count under k already null), flagged when its count is hidden."""
    row["cell"] = h3.int_to_str(int(row["cell"]))
    if not audience.raw:
        row["incidents"] = audience.count(row["incidents"])
        row["suppressed"] = row["incidents"] is None
    return row


def cell_feature(row: dict[str, Any], audience: Audience) -> Feature:
    """A cell with its hexagon, as this audience may see it, identified by its H3 text."""
    geometry = json.loads(row.pop("geometry"))
    row = shape_cell(row, audience)
    return Feature(row, geometry, id=row["cell"])


def cell_file_row(row: dict[str, Any], audience: Audience) -> Feature:
    """A cell of a file download, as this audience may see it, with its hexagon as WKB if it was read."""
    geometry = row.pop("geometry", None)
    return Feature(shape_cell(row, audience), geometry)


def neighbourhood_ranking(store: Store, run: Run, audience: Audience | None = None,
                          top: int = 3) -> list[dict[str, Any]]:
    """Communities ranked for targeting.

    Order: incidents inside hot cells (95 % confidence or more), then incidents
    per km². Below analyst every figure, and so the order, is worked out from the
    published cells only (counts of k or more, classes), so neither a figure nor a
    place in the order bounds a hidden count; a partner sees only its own communities.
    """
    published = audience is not None and not audience.raw
    kind = run.kind
    figures = store.runs.neighbourhood_figures(run.id, published=published, kind=kind)
    # For police a community's incidents are its own (point-in-polygon) under the run's filters, as on
    # its page (runs from before this was recorded fall back to the sum of their cells). Below analyst
    # only the published cells are summed: an exact total would bound the hidden ones.
    by_community = None if published else run.provenance.incidents_by_community
    if by_community is not None:
        for row in figures:
            row["incidents_in_cells"] = row["incidents"]
            row["incidents"] = by_community.get(str(row["community_id"]), 0)
    hottest: dict[int, list[dict[str, Any]]] = {}
    strength = kind.ranking.strength if kind.ranking else ""
    for cell in store.runs.top_cells(run.id, top, published=published, kind=kind):
        shown = {"cell": h3.int_to_str(int(cell["cell"])), "incidents": cell["incidents"],
                 kind.class_field: cell[kind.class_field]}
        if not published:
            shown[strength] = cell[strength]
        hottest.setdefault(cell["community_id"], []).append(shown)
    moran = {} if published else run.provenance.moran_by_community
    verdicts = {} if published else sparse_verdicts(run)
    ranking = [_ranked(row, kind, hottest.get(row["community_id"], []), moran.get(row["community"]))
               for row in figures]
    for row, entry in zip(figures, ranking):  # below analyst from the published classes only
        no_hot = not row["cells_hot"]
        entry["evidence"] = (NO_HOT_SPOT_NOTE if no_hot else None) if published else verdicts.get(entry["community"])
    ranking.sort(key=lambda r: (-r["incidents_in_hot_cells"], -(r["incidents_per_km2"] or 0), r["community"]))
    for place, entry in enumerate(ranking, start=1):
        entry["rank"] = place
    if audience is None or not published:
        return ranking
    for entry in ranking:
        entry.pop("moran")
        entry["counted_over"] = "cells shown (cells under the privacy threshold add nothing)"
        entry["suppressed"] = entry["incidents"] == 0 and entry["cells_hidden"] > 0
        if entry["suppressed"]:  # no cell shown: a sum of nothing, not "no incidents"
            entry.update(incidents=None, incidents_per_km2=None, share_in_hot_cells=None)
    return audience.keep(ranking)


def _ranked(row: dict[str, Any], kind: AnalysisKind, top_cells: list[dict[str, Any]],
            moran: dict[str, Any] | None) -> dict[str, Any]:
    incidents = int(row["incidents"] or 0)
    in_hot = int(row["incidents_in_hot_cells"])
    # The share compares cell sums with cell sums: a border cell holds every analysed community's
    # incidents, so dividing by the community's own count could pass 100 %.
    in_cells = int(row.get("incidents_in_cells") or incidents)
    return {
        "community_id": row["community_id"],
        "community": row["community"],
        "incidents": incidents,
        "area_km2": round(row["area_km2"], 3),
        "incidents_per_km2": round(incidents / row["area_km2"], 2) if row["area_km2"] else None,
        "cells": row["cells"],
        **(kind.ranking.show(row) if kind.ranking else {}),
        "incidents_in_hot_cells": in_hot,
        "share_in_hot_cells": round(in_hot / in_cells, 3) if in_cells else 0.0,
        "cells_hidden": int(row["cells_hidden"] or 0),
        "top_cells": top_cells,
        "moran": moran,
    }
