"""What the browser pages show: communities, recent runs, a community's trend and ranking place.

Aggregates only: counts per community and month, never incident points.
"""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.services import analyses as analysis_service
from app.settings import Settings
from app.store import communities as community_store
from app.store import hotspots as run_store
from app.store import maps as map_store

RECENT_RUNS = 20


def home(session: Session) -> dict[str, Any]:
    runs = run_store.list_runs(session, limit=RECENT_RUNS)
    for run in runs:
        params = run.get("parameters") or {}
        run["communities_label"] = ", ".join(params.get("communities") or []) or "all communities"
        run["resolution"] = params.get("resolution")
    return {"communities": community_store.list_active_communities(session), "runs": runs}


def community(session: Session, settings: Settings, community_id: int) -> dict[str, Any]:
    found = community_store.get_community(session, community_id)
    if found is None:
        raise NotFound(f"There is no community {community_id}.")
    found.pop("geometry", None)
    months = fill_months(community_store.community_breakdown(session, community_id, settings.timezone)["by_month"])
    latest = map_store.latest_completed_run_with_community(session, community_id)
    place = None
    if latest is not None:
        ranking = analysis_service.neighbourhood_ranking(session, latest)
        entry = next((r for r in ranking if r["community_id"] == community_id), None)
        if entry is not None:
            place = {"run_id": latest["id"], "rank": entry["rank"], "of": len(ranking), "entry": entry,
                     "finished_at": latest["finished_at"]}
    return {"community": found, "months": months, "trend_svg": trend_svg(months), "place": place}


def fill_months(by_month: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every month from the first to the last with incidents, zeros included (a gap is not a dip to hide)."""
    if not by_month:
        return []
    counts = {row["month"]: int(row["incidents"]) for row in by_month}
    year, month = map(int, by_month[0]["month"].split("-"))
    last = by_month[-1]["month"]
    filled = []
    while True:
        key = f"{year:04d}-{month:02d}"
        filled.append({"month": key, "incidents": counts.get(key, 0)})
        if key >= last:
            return filled
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def trend_svg(months: list[dict[str, Any]], width: int = 720, height: int = 240) -> str:
    """A monthly bar chart as inline SVG (no chart library to load)."""
    if not months:
        return '<p class="muted">No incidents recorded in this community yet.</p>'
    left, right, top, bottom = 44, 10, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(m["incidents"] for m in months) or 1
    step = plot_w / len(months)
    bar = max(step * 0.8, 1.0)
    parts = [f'<svg class="trend" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="Incidents per month">']
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(peak * fraction):,}</text>')
    label_every = max(1, len(months) // 12)
    for i, m in enumerate(months):
        h = plot_h * m["incidents"] / peak
        x = left + i * step + (step - bar) / 2
        label = html.escape(m["month"])
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                     f'<title>{label}: {m["incidents"]:,} incidents</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
