"""Two hot-spot runs compared: which cells became hot, stayed hot or are no longer hot.

The same privacy rules as the runs' own pages: each run must be one the audience may see (else 404),
and below analyst the classes come from the published cells view (a partner: its communities only),
so the comparison shows nothing the two maps do not already show. No count is part of a comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h3
from markupsafe import Markup

from app.errors import BadRequest, NotFound, Unprocessable
from app.privacy import Audience
from app.runs import Run
from app.services import community_runs, run_pairs, run_results, run_words
from app.services.map_elements import COLOUR_CHOICE, swatch
from app.services.maps import places_within
from app.services.run_pairs import Difference
from app.services.run_words import period_label
from app.store.backends import Store
from spatial.compare import (CHANGE_COLOURS, CHANGE_LABELS, HotCellChanges, ResolutionMismatch, check_same_resolution,
                             compare_hot_cells, hexagons_feature_collection, strongest_per_cell)
from spatial.kinds import DEFAULT_KIND
from spatial.kinds.base import PALETTES, Palette
from spatial.kinds.hotspot import GI_CLASSES

CLASS_FIELD = "gi_bin"
ORDER_NOTE = "a is the run whose period ends first (before), b the later one (after)"
SWAPPED_NOTE = "; they were asked for the other way round"
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
    """Two runs (``first`` the earlier period, ``second`` the later) and how their hot cells changed;
    ``first_classes``/``second_classes``: each compared cell's Gi_Bin class as the audience may see it;
    ``differences``: the settings the two runs differ in."""

    first: Run
    second: Run
    community: dict[str, Any] | None
    changes: HotCellChanges
    first_classes: dict[str, int | None]
    second_classes: dict[str, int | None]
    differences: list[Difference] = field(default_factory=list)
    swapped: bool = False  # the runs were asked for in the other order (the later period first)


def compare_runs(store: Store, first_id: int, second_id: int, audience: Audience,
                 community_id: int | None = None) -> Comparison:
    """Compare two completed hot-spot runs the audience may see, optionally in one community only; the
    earlier period is "before" whichever id comes first.

    Who may see what is checked before anything else: a run the audience may not see answers exactly
    as a run that does not exist (404), never "these runs cannot be compared"."""
    first, second = (run_results.visible_run(store, run_id, audience) for run_id in (first_id, second_id))
    community = _community(store, community_id, audience) if community_id is not None else None
    if first_id == second_id:
        raise BadRequest("Choose two different runs to compare (a and b are both run "
                         f"{first_id}).")
    for run in (first, second):
        run_results.visible_completed_run(store, run.id, audience, waiting="it can be compared once it has completed")
        if run.kind.name != DEFAULT_KIND:
            raise Unprocessable(f"Run {run.id} is an {run.kind.title.lower()} run; only hot and cold spot runs "
                                "(Gi*) can be compared cell by cell.")
    run_pairs.refuse_mixed_measures(first, second)
    before, after = run_pairs.in_time_order(first, second)
    differences = run_pairs.differences(before, after, None if audience.communities is None
                                        else audience.sees_community)
    try:
        check_same_resolution(int(before.parameters.resolution or 0), int(after.parameters.resolution or 0))
    except ResolutionMismatch as exc:
        raise Unprocessable(str(exc), details={"a_resolution": before.parameters.resolution,
                                               "b_resolution": after.parameters.resolution,
                                               "differences": [d.sentence() for d in differences]}) from exc
    first_classes, second_classes = (cell_classes(store, run, audience, community_id) for run in (before, after))
    changes = compare_hot_cells(first_classes, second_classes,
                                first_resolution=int(before.parameters.resolution or 0),
                                second_resolution=int(after.parameters.resolution or 0))
    return Comparison(before, after, community, changes, first_classes, second_classes, differences,
                      swapped=before.id != first_id)


def latest_pair(store: Store, community_id: int, audience: Audience) -> tuple[Run, Run] | None:
    """The community's newest completed hot-spot run the audience may see and the newest before it that
    can be compared with it (same measure, same cell size), in time order (``run_pairs.in_time_order``);
    None when there is no such pair. The community must be one the audience may see (else 404)."""
    _community(store, community_id, audience)
    seen = community_runs.latest_visible_runs(store, audience, community_id, limit=10)
    if not seen:
        return None
    newest = seen[0]
    partner = next((run for run in seen[1:] if run_words.measures(run) == run_words.measures(newest)
                    and run.parameters.resolution == newest.parameters.resolution), None)
    return None if partner is None else run_pairs.in_time_order(partner, newest)


def comparison_record(comparison: Comparison, audience: Audience) -> dict[str, Any]:
    """The comparison as the API gives it: both runs in short (``a`` the earlier period, ``b`` the later),
    the settings they differ in, the counts of each change and the changed cells (H3 text)."""
    changes = comparison.changes
    return {
        "a": _run_summary(comparison.first), "b": _run_summary(comparison.second),
        "order": ORDER_NOTE + (SWAPPED_NOTE if comparison.swapped else ""),
        "differences": [d.sentence() for d in comparison.differences],
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
    return {"id": run.id, "heading": run_words.run_heading(run),
            "period": period_label(run.parameters.start, run.parameters.end),
            "resolution": run.parameters.resolution, "cell_size": run_words.cell_size_label(run.parameters.resolution),
            "test": run_words.confidence_test_words(run),
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
        "differences": comparison.differences, "swapped": comparison.swapped,
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
                   "places": places_within(bounds),
                   "class_palettes": class_palettes(),
                   "change_colours": CHANGE_COLOURS},
    }
