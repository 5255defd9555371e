"""The community brief: two printed pages a partner can forward, for one community and one month.

Page 1: the community, its monthly trend (CompStat: this month, the last, a year earlier, the long-run
trend) and the hot-spot map of the latest run the reader may see that had ended by the end of the month
reported (a brief for March never shows a run of April). Page 2: its place in that run's ranking, crime
per resident, social factors, interventions, the provenance line and the privacy note. Long lists are
cut to what fits two A4 pages, saying how many more the community page lists.

Everything comes from the services the community page and the API use, with the reader's audience:
below analyst the published monthly figures, the published cells (classes only, counts under k hidden)
and shared runs only; a partner sees only its own communities (any other is 404). Nothing here counts
incidents itself or applies its own suppression.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import h3

from app.errors import BadRequest
from app.privacy import Audience
from app.runs import Run
from app.services import communities as community_service
from app.services import community_runs
from app.services import intervention_evaluation
from app.services import interventions as intervention_service
from app.services import rates as rate_service
from app.services import run_results, run_words
from app.services import trends as trend_service
from app.services.pages import trend_svg
from app.services.run_words import period_label
from app.settings import Settings
from app.store.backends import Store
from spatial.brief_map import MapClass, cells_map_svg

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TREND_MONTHS = 24
RANKING_ROWS = 10
# What fits on page 2 beside the ranking, the rates and the notes (the PDF is two A4 pages).
FIGURE_ROWS = 6
INTERVENTION_ROWS = 4
PRIVACY_NOTE_PARTNER = (
    "Aggregates only: no incident location, victim or offender is in this brief. Counts under {k} are hidden "
    "(shown as “fewer than {k}”), sensitive categories are left out, and the map shows the published class of each cell "
    "only. It is safe to forward to the partners it was made for; do not add figures from other sources to it.")
PRIVACY_NOTE_POLICE = (
    "Police tier: exact counts. Not to be forwarded outside the police; make the partner brief "
    "(as a partner account, or the scheduled briefs) for anyone else.")
NO_INTERVENTIONS = "No intervention has been recorded in this community."
NO_SHARED_INTERVENTIONS = "No intervention recorded in this community has been shared."


def checked_period(period: str | None, zone: ZoneInfo) -> str | None:
    """The month a brief reports on, as "YYYY-MM" (None: the latest complete month); 400 otherwise.

    Only a month that has ended (in the service's time zone) can be reported on."""
    if period is None or not period.strip():
        return None
    period = period.strip()
    if not PERIOD.match(period):
        raise BadRequest(f"period must be a month written YYYY-MM, e.g. 2025-06 (got {period[:20]!r}).")
    this_month = datetime.now(zone).strftime("%Y-%m")
    if period >= this_month:
        raise BadRequest(f"period {period} has not ended yet; choose a month that has ended "
                         f"(before {this_month}).")
    return period


def month_end(period: str, zone: ZoneInfo) -> datetime:
    """The first moment after the month ``period`` ("2026-03": 2026-04-01 00:00 local time)."""
    year, month = int(period[:4]), int(period[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=zone)


def community_brief(store: Store, settings: Settings, community_id: int, audience: Audience,
                    period: str | None) -> dict[str, Any]:
    """Everything the brief's template shows, as this audience may see it (404 outside a partner's scope)."""
    period = checked_period(period, settings.zone)
    found = community_service.community_detail(store, community_id, audience, settings.timezone)
    outline = json.loads(found["geometry"]) if found.get("geometry") else None
    community = {k: v for k, v in found.items() if k not in ("geometry", "by_category", "by_month")}
    trend = None
    if found["is_active"]:  # trends are kept for the active boundary set
        options = trend_service.TrendOptions("month", TREND_MONTHS, until=period)
        trend = trend_service.community_trend(store, settings, community_id, audience, options)
    if period is not None and trend is not None and trend["periods"] and trend["periods"][-1] != period:
        trend["notes"].append(f"{period} is not complete in the data yet (or not published); "
                              f"the trend stops at {trend['periods'][-1]}.")
    months = [{"month": p["period"], "incidents": p["incidents"]} for p in (trend or {}).get("series", [])]
    min_count = None if audience.raw else audience.min_count
    # A brief for a month shows the latest run that had ended by that month's end, not a later one.
    run = community_runs.latest_visible_run(store, audience, community_id,
                                            ended_by=month_end(period, settings.zone) if period else None)
    figures = store.figures.figures_of_community(community_id)
    interventions = intervention_service.list_interventions(store, audience, community["name"])
    brief: dict[str, Any] = {
        "community": community, "period": period or (trend or {}).get("latest_complete"),
        "period_asked": period, "trend": trend,
        "trend_svg": trend_svg(months, min_count), "min_count": min_count, "run": None, "map_svg": None,
        "ranking": [], "place": None, "rates": None,
        "figures": figures[:FIGURE_ROWS], "figures_more": max(len(figures) - FIGURE_ROWS, 0),
        "interventions": _with_evaluations(store, interventions[:INTERVENTION_ROWS], audience),
        "interventions_more": max(len(interventions) - INTERVENTION_ROWS, 0),
        "interventions_note": NO_INTERVENTIONS if audience.raw else NO_SHARED_INTERVENTIONS,
        "synthetic": bool(run and run.synthetic),
        "made_at": datetime.now(settings.zone), "audience": audience_label(audience),
        "privacy_note": PRIVACY_NOTE_POLICE if audience.raw else PRIVACY_NOTE_PARTNER.format(k=audience.min_count),
        "tier_note": audience.tier_note(run_results.DISCLOSURE_NOTE), "version": _version()}
    if run is not None:
        brief.update(_run_sections(store, run, community_id, audience, outline))
    return brief


def _with_evaluations(store: Store, interventions: list[dict[str, Any]], audience: Audience) -> list[dict[str, str]]:
    """Interventions with the sentence of their kept evaluation (a brief never computes one)."""
    return [{"name": f"{i['name']} ({i['starts_on']} to {i['ends_on']})",
             "evaluation": intervention_evaluation.kept_sentence(store, i["id"], audience) or "not evaluated yet"}
            for i in interventions]


def audience_label(audience: Audience) -> str:
    """Who a brief was made for, as the history records it: 'police' or 'partner' (every tier below analyst)."""
    return "police" if audience.raw else "partner"


def _run_sections(store: Store, run: Run, community_id: int, audience: Audience,
                  outline: dict[str, Any] | None) -> dict[str, Any]:
    """The map, the ranking and the rates of one run, as the audience may see them."""
    kind = run.kind
    scheme = next(s for s in kind.schemes if s.field == kind.class_field)
    # The stored cell id is an integer; the drawing reads H3 text.
    cells = ((h3.int_to_str(int(cell["cell"])), cell[scheme.field]) for cell in store.runs.iter_cells(
        run.id, community_id=community_id, published=not audience.raw, kind=kind))
    map_svg = cells_map_svg(cells, outline, [MapClass(c.value, c.label, c.colour) for c in scheme.classes],
                            title=scheme.legend_title)
    place = community_runs.place_in_ranking(store, run, audience, community_id, rows=RANKING_ROWS)
    return {
        "run": {"id": run.id, "title": run_words.run_title(run), "facts": run_results.run_facts(run, audience),
                "period": period_label(run.parameters.start, run.parameters.end),
                "data_changed": run.data_changed, "legend": scheme.legend_title},
        "map_svg": map_svg, "place": place,
        "ranking": place["ranking"] if place else [], "of": place["of"] if place else None,
        "rates": rate_service.community_rate(store, run, audience, community_id) if place else None,
    }


def _version() -> str:
    try:
        return version("hotspots")
    except PackageNotFoundError:  # a checkout that was never installed
        return "development"
