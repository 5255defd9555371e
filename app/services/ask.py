"""What the "New analysis" form, the run list and a run's own page show ("ask" and "find").

The form is for analysts only (it lists every community and every category); the run
list and a run's page follow the reader's tier through ``run_results.visible_runs`` and
``visible_run``, so a partner sees exactly the runs the API would show it, and never
who ran them. Dates are in the service's time zone; the form's end date is the last
day counted (inclusive), which the page turns into the API's exclusive end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import shapely

from app.errors import BadRequest
from app.privacy import Audience
from app.runs import Run, RunListFilters
from app.services import categories as category_service
from app.services import communities as community_service
from app.services import run_results
from app.services.run_words import categories_label, communities_label, period_label
from app.settings import Settings
from app.store.backends import Store
from spatial.grid import MAX_RESOLUTION, MIN_RESOLUTION
from spatial.islands import cell_size_words, group_by_island
from spatial.kinds import kind_named

DEFAULT_RESOLUTION = 9
RUNS_PER_PAGE = 25
STATUSES = ("queued", "running", "completed", "failed")
KINDS = ("hotspot", "emerging")
AUDIENCES = {"police": "police only", "shared": "shared with partners"}
EMERGING_STEPS = ("month", "quarter", "week", "day")
# (value, label, days back from today, today included); "this year" and "all dates" are worked out below.
LAST_DAYS = ((30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 365 days"))


def new_analysis_form(store: Store, settings: Settings, from_run: int | None = None,
                      today: date | None = None) -> dict[str, Any]:
    """Everything the form offers: communities by island with their outlines, categories in the data,
    resolutions in words, period presets, and (``from_run``) the choices of an earlier run to run again."""
    today = today or datetime.now(settings.zone).date()
    all_ids, shapes = store.boundaries.active_community_shapes()
    communities = {c["id"]: c for c in store.boundaries.list_active_communities()}
    kept = [(i, shape) for i, shape in zip(all_ids, shapes) if i in communities]
    ids = [i for i, _ in kept]
    geometries = list(shapely.from_wkb([shape for _, shape in kept])) if kept else []
    islands: list[dict[str, Any]] = [
        {"label": f"Island {n + 1}", "communities": sorted((communities[i] for i in group), key=lambda c: str(c["name"]))}
        for n, group in enumerate(group_by_island(ids, geometries))]
    outlines, bounds = store.maps.communities_feature_collection(ids) if ids else ("", None)
    first_last = store.boundaries.incident_time_range()
    return {
        "islands": islands, "outlines": outlines, "bounds": bounds,
        "categories": category_service.known(store),
        "resolutions": [{"value": r, "words": cell_size_words(r)} for r in range(MIN_RESOLUTION, MAX_RESOLUTION + 1)],
        "presets": period_presets(today),
        "data_range": [first_last[0].astimezone(settings.zone).date().isoformat(),
                       first_last[1].astimezone(settings.zone).date().isoformat()] if first_last else None,
        "shared_max_resolution": settings.privacy_max_resolution, "steps": EMERGING_STEPS,
        "kinds": [{"value": k, "title": kind_named(k).title} for k in KINDS], "audiences": AUDIENCES,
        "chosen": _chosen(store, settings, from_run),
    }


def period_presets(today: date) -> list[dict[str, str | None]]:
    """The period choices, each with its first and last day (inclusive; None: no limit)."""
    presets: list[dict[str, str | None]] = [
        {"value": f"last{days}", "label": label, "first": (today - timedelta(days=days - 1)).isoformat(),
         "last": today.isoformat()} for days, label in LAST_DAYS]
    presets.append({"value": "year", "label": "This year", "first": date(today.year, 1, 1).isoformat(),
                    "last": today.isoformat()})
    presets.append({"value": "all", "label": "All dates", "first": None, "last": None})
    presets.append({"value": "custom", "label": "Custom range", "first": None, "last": None})
    return presets


def _chosen(store: Store, settings: Settings, from_run: int | None) -> dict[str, Any]:
    """The form's starting choices: the defaults, or an earlier run's (its end shown as its last day)."""
    if from_run is None:
        return {"communities": [], "categories": [], "resolution": DEFAULT_RESOLUTION, "kind": "hotspot",
                "step": "month", "audience": "police", "period": "all", "first": "", "last": "", "from_run": None}
    run = run_results.visible_run(store, from_run)
    params = run.parameters
    first = _local_day(params.start, settings) if params.start else ""
    last = ""
    if params.end:
        end = datetime.fromisoformat(params.end).astimezone(settings.zone)
        # The stored end is the first moment not counted: a midnight end means the day before was the last.
        last = (end.date() - timedelta(days=1) if end.time() == datetime.min.time() else end.date()).isoformat()
    return {"communities": list(params.communities), "categories": list(params.document.get("categories") or []),
            "resolution": params.resolution, "kind": run.kind.name, "step": params.document.get("step") or "month",
            "audience": run.audience, "period": "custom" if first or last else "all", "first": first,
            "last": last, "from_run": run.id}


def _local_day(stamp: str, settings: Settings) -> str:
    return datetime.fromisoformat(stamp).astimezone(settings.zone).date().isoformat()


@dataclass(frozen=True)
class RunListQuery:
    """The run list's filters and page, as the page's query string gives them (checked)."""

    status: str | None = None
    kind: str | None = None
    audience: str | None = None
    community: str | None = None
    before: int | None = None

    def checked(self) -> RunListQuery:
        """The same query, empty choices made ``None``; an unknown choice is refused in words (400)."""
        values = {k: (v or None) for k, v in vars(self).items()}
        for name, allowed in (("status", STATUSES), ("kind", KINDS), ("audience", tuple(AUDIENCES))):
            if values[name] is not None and values[name] not in allowed:
                raise BadRequest(f"The {name} filter must be one of {', '.join(allowed)}; got {values[name]!r}.")
        return RunListQuery(**values)


def run_list(store: Store, audience: Audience, query: RunListQuery) -> dict[str, Any]:
    """A page of the runs this audience may see, filtered, with the link to the next page."""
    query = query.checked()
    filters = RunListFilters(status=query.status, kind=query.kind, audience=query.audience)
    runs = run_results.visible_runs(store, audience, limit=RUNS_PER_PAGE + 1, before_id=query.before,
                                    filters=filters, community=query.community)
    more = len(runs) > RUNS_PER_PAGE
    runs = runs[:RUNS_PER_PAGE]
    names = sorted({c["name"] for c in community_service.active_communities(store, audience)})
    return {"runs": [run_row(run, audience) for run in runs], "query": query, "community_names": names,
            "next_before": runs[-1].id if more and runs else None, "statuses": STATUSES, "audiences": AUDIENCES,
            "kinds": [{"value": k, "title": kind_named(k).title} for k in KINDS],
            "synthetic": any(run.synthetic for run in runs)}


def run_row(run: Run, audience: Audience) -> dict[str, Any]:
    """A run as the pages list it, in a planner's words (who ran it: police only); a scoped partner
    sees only its own communities named."""
    parameters = run.parameters.scoped(audience.sees_community)
    steps = parameters.document.get("steps") if run.kind.stepped_field else None
    analysis = f"{run.kind.title}, {len(steps)} {parameters.document.get('step', 'step')}s" if steps \
        else run.kind.title
    return {**run.summary(), "parameters": dict(parameters.document), "analysis": analysis,
            "period": period_label(parameters.start, parameters.end),
            "communities_label": communities_label(parameters),
            "categories_label": categories_label(parameters),
            "resolution": parameters.resolution,
            "cell_size": cell_size_words(parameters.resolution) if parameters.resolution else "not recorded",
            "audience_label": AUDIENCES.get(run.audience, run.audience),
            "ran_by": (run.created_by_name or "the command line") if audience.raw else None}


def run_page(store: Store, run_id: int, audience: Audience) -> dict[str, Any]:
    """One run's page: its facts, its state, and for a failed run why in plain words and what to try."""
    run = run_results.visible_run(store, run_id, audience)
    row = run_row(run, audience)
    if audience.raw and run.created_by is not None:
        row["ran_by"] = next((u["name"] for u in store.accounts.list_users() if u["id"] == run.created_by), None)
    return {"run": row, "advice": failure_advice(run.error) if run.status == "failed" else None,
            "can_run_again": audience.raw, "synthetic": run.synthetic,
            "working": run.status in ("queued", "running")}


def failure_advice(error: str | None) -> str:
    """What a planner can do about a failed run, from the reason it failed."""
    text = (error or "").lower()
    if "no incidents" in text:
        return ("Nothing was counted with these choices. Choose a longer period, more categories or more "
                "communities, and check the period against the dates the data covers (shown on the form).")
    if "at least" in text and "cells" in text:
        return "The area was too small for the statistics. Choose a finer resolution or more communities."
    if "time steps" in text or "steps" in text:
        return "Choose a longer period or a shorter time step."
    if "imported or removed" in text or "interrupted" in text or "submit it again" in text:
        return "The data or the service changed while the run worked. Run it again."
    if "on our side" in text:
        return "Run it again. If it fails again, tell the administrator the run's number."
    return "Change the choices the reason names, then run it again."


def outlines_json(outlines: str) -> str:
    """The outlines as JSON safe inside a <script type="application/json"> element."""
    return (outlines or json.dumps({"type": "FeatureCollection", "features": []})).replace("</", "<\\/")
