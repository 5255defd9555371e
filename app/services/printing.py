"""Print views ("Print / save as PDF") of a run and of a community: one sheet a planner can file.

A sheet holds the map (hot and cold cells of the run, community outlines and names, towns), its legend,
the run's parameters, the neighbourhood ranking and the provenance line, sized to fit A4 and Letter.
The same privacy tiers as the pages: the run must be one the audience may see, below analyst the
classes and figures come from the published cells, and a partner sees only its communities.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import BadRequest, NotFound
from app.privacy import Audience
from app.runs import Run
from app.services import pages as page_service
from app.services import run_results, run_words
from app.services.compare import COLOUR_SWITCH, SIGNIFICANT, cell_classes, class_legend, class_palettes
from app.services.maps import places_within
from app.settings import Settings
from app.store.backends import Store
from spatial.compare import hexagons_feature_collection
from spatial.kinds import DEFAULT_KIND
from spatial.kinds.base import Palette, palette_named


def sheet_palette(colours: str | None) -> Palette:
    """The colours a sheet is printed in (``?colours=safe``: colour-blind-safe); 400, in words, for others."""
    try:
        return palette_named(colours)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def run_sheet(store: Store, run_id: int, audience: Audience, palette: Palette = "default") -> dict[str, Any]:
    """What the print view of a run shows (404 for a run the audience may not see, 409 unfinished)."""
    run = run_results.visible_completed_run(store, run_id, audience, waiting="it can be printed once it has completed")
    _only_hotspot_runs(run)
    ranking = run_results.neighbourhood_ranking(store, run, audience)
    return {"run": run, "title": run_words.run_title(run), "parameters": parameters(run, audience),
            "provenance": provenance_line(run, audience), "ranking": ranking, "legend": class_legend(palette),
            "colour_switch": COLOUR_SWITCH, "map_json": _map_json(store, run, audience, None, palette),
            "community": None,
            "min_count": None if audience.raw else audience.min_count}


def community_sheet(store: Store, settings: Settings, community_id: int, audience: Audience,
                    palette: Palette = "default") -> dict[str, Any]:
    """The print view of a community: its figures and chart (as on its page) and its latest run's map."""
    context = page_service.community(store, settings, community_id, audience)
    place = context["place"]
    run = run_results.visible_completed_run(store, place["run_id"], audience) if place else None
    context.update({"title": context["community"]["name"], "run": run, "legend": class_legend(palette),
                    "colour_switch": COLOUR_SWITCH,
                    "parameters": parameters(run, audience) if run else [],
                    "provenance": provenance_line(run, audience) if run else None,
                    "ranking": [place["entry"]] if place else [],
                    "map_json": _map_json(store, run, audience, community_id, palette) if run else "null"})
    return context


def parameters(run: Run, audience: Audience) -> list[tuple[str, str]]:
    """The run's parameters in a planner's words, as (label, value) rows (a partner: its communities only)."""
    shown = run.parameters if audience.communities is None else run.parameters.scoped(audience.sees_community)
    return run_words.parameter_rows(run, shown)


def provenance_line(run: Run, audience: Audience) -> str:
    """The map page's provenance line: run, resolution, cells, incidents (police only), dates, finished."""
    flags = ("SYNTHETIC incidents (a demonstration, not police data) · " if run.synthetic else "") + (
        f"Data changed since this run: {run.data_changed} · " if run.data_changed else "")
    return flags + f"{run_words.run_title(run)} · " + " · ".join(run_results.run_facts(run, audience))


def _only_hotspot_runs(run: Run) -> None:
    if run.kind.name != DEFAULT_KIND:
        raise NotFound(f"Run {run.id} is an {run.kind.title.lower()} run; its print view is not made yet. "
                       "Open its map and use the browser's print instead.")


def _map_json(store: Store, run: Run, audience: Audience, community_id: int | None, palette: Palette) -> str:
    """The sheet's map data: significant cells as hexagons, outlines and bounds, towns, and the class colours
    in each palette, ``palette`` first drawn (JSON for a script)."""
    ids = [c["id"] for c in run.provenance.communities if audience.sees_community(c["name"])
           and (community_id is None or c["id"] == community_id)]
    outlines, bounds = store.maps.communities_feature_collection(ids)
    classes = cell_classes(store, run, audience, community_id)
    data = {"cells": hexagons_feature_collection(classes, "gi_bin", lambda v: v in SIGNIFICANT),
            "outlines": json.loads(outlines), "bounds": list(bounds) if bounds else None, "places": places_within(bounds),
            "palette": palette,
            "palettes": class_palettes()}
    return json.dumps(data).replace("</", "<\\/")
