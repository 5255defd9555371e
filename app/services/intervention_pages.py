"""The intervention pages: the list, one intervention (before/after chart and its three areas on a map).

Police see the evaluation computed as they open the page (and kept, as the API does); partners and
viewers see the kept published copy, with hidden counts marked "fewer than k", never drawn as 0.
"""

from __future__ import annotations

import html
import json
from typing import Any

from app.errors import Conflict, NotFound
from app.privacy import Audience
from app.services import intervention_evaluation, interventions
from app.settings import Settings
from app.store.backends import Store

PAGE_SIZE = 100
AREA_LABELS = {"target": "Target area", "buffer": "Surrounding cells (buffer)", "comparison": "Comparison area"}


def list_page(store: Store, audience: Audience, before: int | None = None) -> dict[str, Any]:
    """A page of the interventions the audience may see, newest first, and the cursor of the next page."""
    shown = interventions.list_interventions(store, audience, limit=PAGE_SIZE, before=before)
    return {"interventions": shown, "next_before": shown[-1]["id"] if len(shown) == PAGE_SIZE else None}


def intervention_page(store: Store, settings: Settings, intervention_id: int, audience: Audience) -> dict[str, Any]:
    """One intervention: what it is, its evaluation in words and a chart, and a map of its areas."""
    shown = interventions.get_intervention(store, intervention_id, audience)
    row = interventions.visible_intervention(store, intervention_id, audience)
    try:  # police: computed now and kept; others: the kept published copy, shaped for their scope
        evaluation: dict[str, Any] | None = intervention_evaluation.evaluate(store, intervention_id, audience, settings)
    except (Conflict, NotFound) as refused:  # not evaluated yet, or not for this partner's scope
        evaluation = {"status": "not shown", "sentence": refused.message}
    # hidden counts are marked with the k they were hidden under (a kept copy may be under a stricter, older k)
    min_count = None if audience.raw else int((evaluation or {}).get("published_min_count") or audience.min_count)
    areas = intervention_evaluation.intervention_areas(store, row)
    outlines = intervention_evaluation.area_outlines(row, areas)
    # a partner limited to some communities is drawn only its own (as on the run maps)
    comparison_ids = [i for i, name in areas["comparison_named"].items() if audience.sees_community(name)]
    comparison, _ = store.maps.communities_feature_collection(comparison_ids)
    counts = (evaluation or {}).get("counts") if (evaluation or {}).get("status") == "evaluated" else None
    layers = {"target": outlines["target"], "buffer": outlines["buffer"], "comparison": json.loads(comparison)}
    return {"intervention": shown, "evaluation": evaluation, "min_count": min_count,
            "chart": before_after_svg(counts, min_count) if counts else None,
            "layers_json": json.dumps(layers).replace("</", "<\\/"),
            "basemap_url": settings.basemap_url, "basemap_attribution": settings.basemap_attribution}


def before_after_svg(counts: dict[str, Any], min_count: int | None,
                     width: int = 720, height: int = 220) -> str:
    """Before and after bars for each area as inline SVG, each area on its own scale (the comparison
    area is usually far larger); a hidden count is a mark "<k", never a bar of 0."""
    # in a fixed order: a JSONB document keeps its keys in its own order
    areas = [(name, counts[name]) for name in AREA_LABELS if counts.get(name) is not None]
    left, top, bottom, gap = 10, 44, 34, 30
    panel = (width - left * 2 - gap * (len(areas) - 1)) / max(len(areas), 1)
    plot_h = height - top - bottom
    parts = [f'<svg class="before-after" role="img" viewBox="0 0 {width} {height}" width="100%" '
             'aria-label="Incidents before and after, per area">']
    for index, (name, values) in enumerate(areas):
        x0 = left + index * (panel + gap)
        peak = max((v or 0) for v in values.values()) or 1
        parts.append(f'<text x="{x0 + panel / 2:.1f}" y="14" text-anchor="middle" class="area">'
                     f'{html.escape(AREA_LABELS.get(name, name))}</text>')
        bar = panel * 0.3
        for slot, window in enumerate(("before", "after")):
            x = x0 + panel * (0.15 + slot * 0.4)
            value = values.get(window)
            if value is None:
                parts.append(f'<text class="suppressed" x="{x + bar / 2:.1f}" y="{top + plot_h - 4}" '
                             f'text-anchor="middle">&lt;{min_count}<title>{window}: fewer than {min_count} incidents'
                             '</title></text>')
            else:
                h = plot_h * value / peak
                parts.append(f'<rect class="{window}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                             f'height="{h:.1f}"><title>{window}: {value:,} incidents</title></rect>'
                             f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" '
                             f'class="value">{value:,}</text>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{window}</text>')
    parts.append("</svg>")
    return "".join(parts)
