"""What the browser pages show: communities, recent runs, a community's trend (chart and CompStat table)
and ranking place.

Aggregates only: counts per community and month, never incident points. Below
analyst the figures come from the aggregate-only database function (sensitive
categories and held-back days left out, counts under k not shown), only runs
the audience may see are listed or ranked, and a partner sees only its
communities (any other answers 404).
"""

from __future__ import annotations

import html
from typing import Any

from app.privacy import Audience
from app.services import ask
from app.services import communities as community_service
from app.services import compare
from app.services import community_runs
from app.services import interventions as intervention_service
from app.services import rates as rate_service
from app.services import run_results
from app.services import trends as trend_service
from app.settings import Settings
from app.store.backends import Store

RECENT_RUNS = 20


def home(store: Store, audience: Audience) -> dict[str, Any]:
    runs = [ask.run_row(run, audience)
            for run in run_results.visible_runs(store, audience, limit=RECENT_RUNS, before_id=None)]
    # Police see how many incidents no community counts (outside every boundary): none is lost silently.
    outside = store.boundaries.incidents_in_no_community() if audience.raw else None
    return {"communities": community_service.active_communities(store, audience), "runs": runs,
            "outside": outside, "min_count": None if audience.raw else audience.min_count,
            "synthetic": any(run.get("synthetic") for run in runs)}


def community(store: Store, settings: Settings, community_id: int, audience: Audience) -> dict[str, Any]:
    """One community's page: its figures, monthly trend and place in the latest run the audience may see."""
    found = community_service.community_detail(store, community_id, audience, settings.timezone)
    months = fill_months(found.pop("by_month"), gap=0 if audience.raw else None)
    for key in ("geometry", "by_category"):
        found.pop(key, None)
    # Its place in the latest run the audience may see, and whether /compare has a pair of its runs
    # (the same measure and cell size) to show.
    latest = community_runs.latest_visible_run(store, audience, community_id)
    place = community_runs.place_in_ranking(store, latest, audience, community_id) if latest else None
    synthetic = bool(latest and latest.synthetic)
    comparable = compare.latest_pair(store, community_id, audience) is not None
    trend = None
    if found["is_active"]:  # trends are kept for the active boundary set
        trend = trend_service.community_trend(store, settings, community_id, audience,
                                              trend_service.options_for("month", None, audience))
    rates = rate_service.community_rate(store, latest, audience, community_id) if place and latest else None
    return {"community": found, "months": months, "place": place, "synthetic": synthetic, "trend": trend,
            "rates": rates, "comparable": comparable, "figures": store.figures.figures_of_community(community_id),
            "interventions": intervention_service.list_interventions(store, audience, found["name"]),
            "min_count": None if audience.raw else audience.min_count,
            "trend_svg": trend_svg(months, None if audience.raw else audience.min_count)}


def fill_months(by_month: list[dict[str, Any]], gap: int | None = 0) -> list[dict[str, Any]]:
    """Every month from the first to the last listed, the missing ones as ``gap``.

    For police a missing month had no incidents (0: a gap is not a dip to hide);
    for others it had fewer than k, so it is ``None``, never shown as zero.
    """
    if not by_month:
        return []
    counts = {row["month"]: int(row["incidents"]) for row in by_month}
    year, month = map(int, by_month[0]["month"].split("-"))
    last = by_month[-1]["month"]
    filled = []
    while True:
        key = f"{year:04d}-{month:02d}"
        filled.append({"month": key, "incidents": counts.get(key, gap)})
        if key >= last:
            return filled
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def trend_svg(months: list[dict[str, Any]], min_count: int | None = None, width: int = 720,
              height: int = 240) -> str:
    """A monthly bar chart as inline SVG (no chart library to load).

    A month with ``None`` (fewer than ``min_count``) gets no bar, only a mark and a note.
    """
    if not months:
        if min_count is not None:
            return f'<p class="muted">No month with {min_count} or more incidents to show.</p>'
        return '<p class="muted">No incidents recorded in this community yet.</p>'
    left, right, top, bottom = 44, 10, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = axis_ticks(max(m["incidents"] or 0 for m in months))
    peak = ticks[-1]  # the top gridline: bars are drawn against it, so a tick's label is its height
    step = plot_w / len(months)
    bar = max(step * 0.8, 1.0)
    parts = [f'<svg class="trend" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="Incidents per month">']
    for tick in ticks:
        y = top + plot_h * (1 - tick / peak)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>')
    label_every = max(1, len(months) // 12)
    for i, m in enumerate(months):
        x = left + i * step + (step - bar) / 2
        label = html.escape(m["month"])
        if m["incidents"] is None:
            parts.append(f'<text class="suppressed" x="{x + bar / 2:.1f}" y="{top + plot_h - 4:.1f}" '
                         f'text-anchor="middle">&lt;{min_count}<title>{label}: fewer than {min_count} incidents'
                         f'</title></text>')
        else:
            h = plot_h * m["incidents"] / peak
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                         f'<title>{label}: {incidents_words(m["incidents"])}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    if min_count is not None:
        parts.append(f'<p class="muted">Sensitive categories are left out; months with fewer than {min_count} '
                     "incidents are not shown.</p>")
    return "".join(parts)


def incidents_words(n: int) -> str:
    """"1 incident", "0 incidents", "1,204 incidents"."""
    return f"{n:,} incident" + ("" if n == 1 else "s")


def axis_ticks(peak: int, most: int = 5) -> list[int]:
    """Whole-number gridlines from 0 to at least ``peak``, a round step apart (1, 2, 5, 10, 20, 50, ...),
    at most ``most`` + 1 of them: counts are whole, so no gridline sits at 1.5 labelled "2"."""
    peak = max(int(peak), 1)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if -(-peak // (step * factor)) <= most:
                size = step * factor
                return list(range(0, size * -(-peak // size) + 1, size))
        step *= 10
