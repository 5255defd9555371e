"""Two hot-spot runs compared: which cells became hot, stayed hot or are no longer hot.

The same privacy rules as the runs' own pages: each run must be one the audience may see (else 404),
and below analyst the classes come from the published cells view (a partner: its communities only),
so the comparison shows nothing the two maps do not already show. No count is part of a comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import h3
from markupsafe import Markup

from app.errors import BadRequest, NotFound, Unprocessable
from app.privacy import Audience
from app.runs import Run
from app.services import run_results
from app.services.map_elements import COLOUR_CHOICE, swatch
from app.services.pages import period_label
from app.store.backends import Store
from spatial.compare import (CHANGE_COLOURS, CHANGE_LABELS, HotCellChanges, ResolutionMismatch, compare_hot_cells,
                             hexagons_feature_collection, strongest_per_cell)
from spatial.kinds import DEFAULT_KIND
from spatial.kinds.base import PALETTES, Palette
from spatial.kinds.hotspot import GI_CLASSES

CLASS_FIELD = "gi_bin"
# The classes the compare page and the print sheets draw (cells not significant are left out).
SIGNIFICANT = {cls.value: cls for cls in GI_CLASSES if cls.value != 0}


def class_legend(palette: Palette = "default") -> list[dict[str, Any]]:
    """The significant classes as a legend: value, label and swatch (in ``palette``, with its colour in each)."""
    return [{"value": c.value, "label": c.label, "swatch": Markup(swatch(c, palette))} for c in SIGNIFICANT.values()]


# The map pages' "Colour-blind-safe colours" switch, for a page template.
COLOUR_SWITCH = Markup(COLOUR_CHOICE)


def class_palettes() -> dict[str, dict[str, str]]:
    """The significant classes' colours in each palette (for a page's script to switch between)."""
    return {p: {str(v): c.colour_in(p) for v, c in SIGNIFICANT.items()} for p in PALETTES}


@dataclass(frozen=True)
class Comparison:
    """Two runs (``first`` the earlier map, ``second`` the later) and how their hot cells changed;
    ``first_classes``/``second_classes``: each compared cell's Gi_Bin class as the audience may see it."""

    first: Run
    second: Run
    community: dict[str, Any] | None
    changes: HotCellChanges
    first_classes: dict[str, int | None]
    second_classes: dict[str, int | None]


def compare_runs(store: Store, first_id: int, second_id: int, audience: Audience,
                 community_id: int | None = None) -> Comparison:
    """Compare two completed hot-spot runs the audience may see, optionally in one community only."""
    if first_id == second_id:
        raise BadRequest("Choose two different runs to compare (a and b are both run "
                         f"{first_id}).")
    first, second = (run_results.visible_completed_run(store, run_id, audience,
                                                       waiting="it can be compared once it has completed")
                     for run_id in (first_id, second_id))
    for run in (first, second):
        if run.kind.name != DEFAULT_KIND:
            raise Unprocessable(f"Run {run.id} is an {run.kind.title.lower()} run; only hot and cold spot runs "
                                "(Gi*) can be compared cell by cell.")
    community = _community(store, community_id, audience) if community_id is not None else None
    first_classes, second_classes = (cell_classes(store, run, audience, community_id) for run in (first, second))
    try:
        changes = compare_hot_cells(first_classes, second_classes,
                                    first_resolution=int(first.parameters.resolution or 0),
                                    second_resolution=int(second.parameters.resolution or 0))
    except ResolutionMismatch as exc:
        raise Unprocessable(str(exc), details={"a_resolution": first.parameters.resolution,
                                               "b_resolution": second.parameters.resolution}) from exc
    return Comparison(first, second, community, changes, first_classes, second_classes)


def latest_pair(store: Store, community_id: int, audience: Audience) -> tuple[Run, Run] | None:
    """The community's two newest completed hot-spot runs the audience may see (older first), or None."""
    runs = store.maps.latest_completed_runs_with_community(
        community_id, shared_up_to_resolution=None if audience.raw else audience.max_resolution, limit=10)
    seen = [run for run in runs if audience.sees_run(run)][:2]
    return (seen[1], seen[0]) if len(seen) == 2 else None


def comparison_record(comparison: Comparison, audience: Audience) -> dict[str, Any]:
    """The comparison as the API gives it: both runs in short, the counts of each change and the changed
    cells (H3 text), with what was compared and what was not."""
    changes = comparison.changes
    return {
        "a": _run_summary(comparison.first), "b": _run_summary(comparison.second),
        "community": comparison.community,
        "hot_means": "Gi_Bin 2 or 3: a hot spot at 95 % confidence or more",
        "resolution": comparison.first.parameters.resolution,
        "counts": changes.counts,
        "labels": CHANGE_LABELS,
        "cells_compared": changes.compared,
        "cells_only_in_a": changes.only_first,
        "cells_only_in_b": changes.only_second,
        "notes": changes.notes,
        "privacy": audience.tier_note("Classes come from the published cells of each run."),
        "cells": [{"cell": cell, "change": change} for cell, change in changes.changes.items()],
    }


def _run_summary(run: Run) -> dict[str, Any]:
    return {"id": run.id, "period": period_label(run.parameters.start, run.parameters.end),
            "resolution": run.parameters.resolution,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


def _community(store: Store, community_id: int, audience: Audience) -> dict[str, Any]:
    found = store.boundaries.get_community_shape(community_id)
    if found is None or not audience.sees_community(found["name"]):
        raise NotFound(f"There is no community {community_id}.")
    return {"id": community_id, "name": found["name"]}


def cell_classes(store: Store, run: Run, audience: Audience, community_id: int | None = None) -> dict[str, int | None]:
    """Each cell's Gi_Bin in this run as the audience may see it (published cells below analyst)."""
    within = run_results.scope_ids(store, run, audience)
    cells: Iterable[dict[str, Any]] = store.runs.iter_cells(run.id, community_id, None, within,
                                                            published=not audience.raw, kind=run.kind)
    return strongest_per_cell((h3.int_to_str(int(c["cell"])), _class(c.get(CLASS_FIELD))) for c in cells)


def _class(value: Any) -> int | None:
    return None if value is None else int(value)


def page_context(store: Store, comparison: Comparison, audience: Audience) -> dict[str, Any]:
    """What the compare page draws: each run's hot and cold cells, the change map, outlines, legends."""
    ids = sorted({c["id"] for run in (comparison.first, comparison.second) for c in run.provenance.communities
                  if audience.sees_community(c["name"])
                  and (comparison.community is None or c["id"] == comparison.community["id"])})
    outlines, bounds = store.maps.communities_feature_collection(ids)

    def classed(classes: dict[str, int | None]) -> dict[str, Any]:
        return hexagons_feature_collection(classes, CLASS_FIELD, lambda v: v in SIGNIFICANT)

    changes = comparison.changes
    return {
        "a": _run_summary(comparison.first), "b": _run_summary(comparison.second),
        "a_facts": " · ".join(run_results.run_facts(comparison.first, audience)),
        "b_facts": " · ".join(run_results.run_facts(comparison.second, audience)),
        "community": comparison.community, "changes": changes,
        "change_rows": [{"key": k, "label": label, "colour": CHANGE_COLOURS[k], "count": changes.counts[k]}
                        for k, label in CHANGE_LABELS.items()],
        "class_rows": class_legend(), "colour_switch": COLOUR_SWITCH,
        "min_count": None if audience.raw else audience.min_count,
        "layers": {"a": classed(comparison.first_classes), "b": classed(comparison.second_classes),
                   "change": hexagons_feature_collection(changes.changes, "change"),
                   "outlines": json.loads(outlines), "bounds": list(bounds) if bounds else None,
                   "class_palettes": class_palettes(),
                   "change_colours": CHANGE_COLOURS},
    }
