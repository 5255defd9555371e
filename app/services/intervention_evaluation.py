"""Did crime fall where a programme ran more than elsewhere, and did it move next door?

Incidents are counted in SQL per area (target, buffer, comparison: app/store/interventions.py) and
window: the programme's own dates (*after*), the window of the same length just before (*before*),
and up to ``EARLIER_WINDOWS`` earlier windows of that length, which (not the window before: it is the
one tested) give the over-dispersion (how much the target moved against the comparison with no programme: Pearson's
chi-square on W - 1 degrees of freedom for W windows, spatial/outcomes/intervention.py). Earlier
windows starting before the first recorded incident are left out: they would be empty for want of
data, not of crime.

An analyst's request (or ``hotspots interventions evaluate``) computes the evaluation and keeps it
with the intervention; that kept copy is all partners and viewers see (their requests run as a
database role that cannot read incidents). Their copy is counted without the sensitive categories
and the held-back days, every count under k is hidden, and a change, interval or displacement
quotient is published only when every count it is made from is shown: a ratio beside three
shown counts would give the hidden fourth away.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from app.errors import Conflict, NotFound
from app.privacy import Audience
from app.services.interventions import active_communities, visible_intervention
from app.settings import Settings
from app.store.backends import Store
from app.store.sql import hold_back_cutoff
from spatial.outcomes.areas import buffer_ring, cells_outline, polygon_cells
from spatial.outcomes import intervention
from spatial.outcomes.intervention import AreaCounts, evaluate_intervention

EARLIER_WINDOWS = 6
# Fewer earlier windows than this estimate the over-dispersion too poorly to use (W windows give
# W - 1 degrees of freedom, and Student's t on 1 or 2 makes any interval uselessly wide):
# the interval then assumes Poisson counts, and says so.
MIN_EARLIER_WINDOWS = 4


def evaluate(store: Store, intervention_id: int, audience: Audience, settings: Settings,
             now: datetime | None = None) -> dict[str, Any]:
    """The evaluation of an intervention as ``audience`` may see it.

    Police: computed now and kept (with the published copy). Others: the kept published copy.
    """
    row = visible_intervention(store, intervention_id, audience)
    if not audience.raw:
        return _published_view(row, audience)
    now = now or datetime.now(UTC)
    areas = intervention_areas(store, row)
    police = _evaluation(store, row, areas, settings.zone, now=now)
    published = _published(_evaluation(store, row, areas, settings.zone, now=now, shared=True,
                                       hold_back_days=settings.privacy_hold_back_days),
                           max(settings.privacy_min_count, 3))
    store.interventions.record_evaluation(row["id"], police, published, now)
    store.session.commit()
    return police


def intervention_areas(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """The target's cells, the buffer ring and the communities of the target and comparison areas."""
    communities = active_communities(store)
    targets = set(row["target_communities"] or ())
    if targets:
        if not targets <= {c["id"] for c in communities}:
            raise Conflict(f"Intervention {row['id']} names target communities of a boundary set that is no longer "
                           "active; record it again with the active set's communities.")
        shape = shapely.union_all([c["shape"] for c in communities if c["id"] in targets])
    else:
        shape = shapely.geometry.shape(row["target_geometry"])
    cells = polygon_cells(shape, row["resolution"])
    comparison = row["comparison_communities"] or [c["id"] for c in communities if c["id"] not in targets]
    names = {c["id"]: c["name"] for c in communities}
    return {"target_communities": sorted(targets), "target_cells": [] if targets else cells.tolist(),
            "cover": cells, "buffer_cells": buffer_ring(cells, row["buffer_rings"]).tolist(),
            "comparison_communities": comparison,
            "comparison_named": {i: names[i] for i in comparison if i in names}}


def area_outlines(row: dict[str, Any], areas: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON outlines of the target (the polygon drawn, or its communities' cells) and of the buffer ring."""
    return {"target": row["target_geometry"] or cells_outline(areas["cover"]),
            "buffer": cells_outline(np.array(areas["buffer_cells"], dtype=np.int64))}


def windows(row: dict[str, Any], zone: ZoneInfo, earlier: int = EARLIER_WINDOWS) -> list[datetime]:
    """Window bounds, oldest first: ``earlier`` earlier windows, the window just before the programme, then
    its own dates."""
    start = datetime.combine(row["starts_on"], time(), zone)
    end = datetime.combine(row["ends_on"] + timedelta(days=1), time(), zone)
    length = end - start
    return [start - step * length for step in range(earlier + 1, 0, -1)] + [start, end]


def _evaluation(store: Store, row: dict[str, Any], areas: dict[str, Any], zone: ZoneInfo, *, now: datetime,
                shared: bool = False, hold_back_days: int = 0) -> dict[str, Any]:
    bounds = windows(row, zone)
    horizon = hold_back_cutoff(hold_back_days) if shared else now
    described = {"before": _window(bounds[-3], bounds[-2]), "after": _window(bounds[-2], bounds[-1])}
    if bounds[-1] > horizon:
        held = f" and the {hold_back_days} held-back days have passed" if shared and hold_back_days else ""
        return {**described, "status": "not over",
                "sentence": f"The programme runs until {row['ends_on']}; it can be evaluated once it has ended{held}."}
    counts = store.interventions.counts_per_area_and_window(
        resolution=row["resolution"], target_communities=areas["target_communities"],
        target_cells=areas["target_cells"], buffer_cells=areas["buffer_cells"],
        comparison_communities=areas["comparison_communities"], bounds=bounds, without_sensitive=shared,
        before=horizon if shared else None)
    first = store.boundaries.incident_time_range()
    # window j is [bounds[j], bounds[j + 1]); windows 0 .. len(bounds) - 4 are the earlier ones
    usable = [j for j in range(len(bounds) - 3) if first is not None and bounds[j] >= first[0]]
    if len(usable) < MIN_EARLIER_WINDOWS:
        usable = []
    has_buffer = row["buffer_rings"] > 0
    after = len(bounds) - 2

    def area(name: int) -> AreaCounts:
        return AreaCounts(int(counts[name, after - 1]), int(counts[name, after]))

    target, comparison = area(0), area(2)
    earlier = [(int(counts[0, j]), int(counts[2, j]), int(counts[1, j]) if has_buffer else None) for j in usable]
    result = evaluate_intervention(target, comparison, area(1) if has_buffer else None, earlier=earlier)
    # kept apart so that the published copy can drop the buffer's sentence when its counts are hidden
    target_sentence = intervention.target_sentence(result.target_change, target, result.level, result.power)
    buffer_sentence = result.sentence[len(target_sentence):].strip() or None
    document: dict[str, Any] = {**described, "status": "evaluated", **result.as_dict(),
                "earlier_windows": [_window(bounds[j], bounds[j + 1]) for j in usable],
                "counted": ("without the sensitive categories and the held-back days, as shared outputs are"
                            if shared else "every incident recorded, as police outputs are")}
    if not usable and result.target_change.interval is not None and not result.target_change.too_few:
        target_sentence += (f" Fewer than {MIN_EARLIER_WINDOWS} earlier periods of the same length have data to "
                            "learn how much these areas vary: the interval assumes they vary no more than chance "
                            "would (Poisson counts), so it may be too narrow.")
    document["target_sentence"], document["buffer_sentence"] = target_sentence, buffer_sentence
    document["sentence"] = " ".join(s for s in (target_sentence, buffer_sentence) if s)
    return document


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def _published(document: dict[str, Any], k: int) -> dict[str, Any]:
    """The evaluation partners and viewers may read: counts under ``k`` hidden, and every figure made
    from a hidden count left out with the reason."""
    if document["status"] != "evaluated":
        return {**document, "published_min_count": k}
    counts = document["counts"]
    shown = {area: None if values is None else {w: (n if n >= k else None) for w, n in values.items()}
             for area, values in counts.items()}

    def complete(*areas: str) -> bool:
        return all((values := shown[a]) is not None and None not in values.values() for a in areas)

    published = {key: document[key] for key in ("before", "after", "status", "method", "level", "power", "counted")}
    published.update(counts=shown, published_min_count=k, suppressed=not complete(*[a for a in shown if shown[a]]))
    hidden = f"fewer than {k} incidents in a window"
    if complete("target", "comparison"):
        published["target_change"], sentence = _rounded(document["target_change"]), document["target_sentence"]
    else:
        published["target_change"] = None
        sentence = (f"No effect can be published or claimed: the target or the comparison area had {hidden}, "
                    "too few to tell a change from chance and too few to show.")
    buffer_sentence = document["buffer_sentence"]
    if document["buffer_change"] is not None and complete("target", "buffer", "comparison"):
        published["buffer_change"], published["displacement"] = (_rounded(document["buffer_change"]),
                                                                   _rounded(document["displacement"]))
    else:
        published["buffer_change"] = published["displacement"] = None
        buffer_sentence = (f"Displacement into the surrounding cells is not published: {hidden}."
                           if document["buffer_change"] is not None else None)
    published["sentence"] = " ".join(s for s in (sentence, buffer_sentence) if s)
    return published


def _rounded(figures: Any) -> Any:
    """Figures to 4 decimals for the published copy, for readers shown every count they are made from. To a
    reader not shown some of those counts they would give them away (a 4-decimal ratio and its interval are two
    equations in the two hidden counts): such a reader gets :func:`_coarse` figures instead. The words beside
    them (sentences, the WDQ shown) were written from the full values and are kept as they are."""
    if isinstance(figures, float):
        return round(figures, 4)
    if isinstance(figures, dict):
        return {key: value if key == "quotient_shown" else _rounded(value) for key, value in figures.items()}
    if isinstance(figures, list):
        return [_rounded(value) for value in figures]
    return figures


def _coarse(change: dict[str, Any] | None) -> dict[str, Any] | None:
    """A change as a reader not shown the comparison counts may see it: the change in whole percents and
    whether it is told apart from chance. No ratio, interval, p-value, detectable fall or dispersion: even in
    whole percents, the change and its interval together pin the two hidden counts down when they are small."""
    if change is None:
        return None
    percent = change.get("change_percent")
    return {"ratio": None, "change_percent": None if percent is None else int(round(percent)), "interval": None,
            "p_value": None, "detectable_fall_percent": None, "dispersion": None, "found": change.get("found"),
            "reason": change.get("reason"), "precision": "whole percents, without the interval"}


def _withheld(kept: dict[str, Any]) -> dict[str, Any]:
    """The published copy for a reader the buffer's and comparison area's counts are withheld from."""
    shown = {**kept, "counts": {**kept["counts"], "buffer": None, "comparison": None},
             "counts_withheld": ("The surrounding cells and the comparison area reach outside your communities: "
                                 "their counts are not shown, and the changes worked out from them are given in "
                                 "whole percents without their intervals, which would give those counts away.")}
    if kept.get("target_change") is None:
        return shown  # its sentence already says no effect is published, from no figure
    shown["target_change"], shown["buffer_change"] = _coarse(kept["target_change"]), _coarse(kept.get("buffer_change"))
    displacement = kept.get("displacement")
    shown["displacement"] = None if displacement is None else {
        "displacement_measure": None, "success_measure": None, "quotient": None, "quotient_shown": None,
        "reading": displacement.get("reading")}
    shown["sentence"] = intervention.coarse_sentence(shown["target_change"], shown["buffer_change"])
    return shown


def _published_view(row: dict[str, Any], audience: Audience) -> dict[str, Any]:
    kept = row["published_evaluation"]
    if not kept:
        raise Conflict(f"Intervention {row['id']} has not been evaluated yet; an analyst evaluates it.")
    if kept.get("published_min_count", 0) < audience.min_count:
        raise Conflict(f"The evaluation of intervention {row['id']} was published under an older privacy rule; "
                       "an analyst evaluates it again.")
    shown = {**kept, "evaluated_at": row["evaluated_at"].isoformat(timespec="seconds") if row["evaluated_at"] else None}
    if audience.communities is not None and kept.get("counts"):
        # a partner limited to some communities sees counts of its own places only: the target when it lies
        # wholly in them; the buffer and the comparison area reach into others, so their counts are withheld
        if not set(row["communities"]) <= audience.communities:
            raise NotFound(f"There is no evaluation of intervention {row['id']} for you: it covers communities "
                           "outside yours.")
        shown = _withheld(shown)
    return shown


OUTSIDE_SCOPE = "Its evaluation covers other communities too and is not shown in this brief."
OLDER_RULE = "Its evaluation was published under an older privacy rule and is not shown until an analyst evaluates it again."


def kept_sentence(store: Store, intervention_id: int, audience: Audience) -> str | None:
    """The sentence of an intervention's kept evaluation as ``audience`` may read it, or why it is not shown
    (None: not evaluated yet). Never computes: for briefs and lists, which must stay cheap."""
    row = visible_intervention(store, intervention_id, audience)
    if audience.raw:
        return (row.get("evaluation") or {}).get("sentence")
    if not row["published_evaluation"]:
        return None
    try:
        return _published_view(row, audience)["sentence"]
    except NotFound:
        return OUTSIDE_SCOPE
    except Conflict:
        return OLDER_RULE
