"""Trends per community, CompStat style: this period, the last, a year earlier, the long-run trend.

Police (analyst and above) get exact counts per month or week, from one
``GROUP BY`` over the incidents. Everyone else gets months only, built from the
published monthly figures (sums of published atoms, migration 0009), never from
exact counts: a month with nothing published is *hidden* (fewer than k, or
none), not zero, and no test uses it. The statistics are in ``spatial/trends.py``.

Periods are whole local calendar periods (``spatial.emerging.steps``, as the
emerging hot spot runs count them). The latest *complete* period is the last one
that has ended both before today and before the data end (police: the day after
the last incident recorded in the active set, so an extract that stops
mid-month does not show a false drop, and the series starts with the first
period the data cover whole; others: the latest month published anywhere in the
active set).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from app.errors import BadRequest, NotFound
from app.privacy import Audience
from app.settings import Settings
from app.store.backends import Store
from spatial import trends as stats
from spatial.emerging.steps import time_steps

DEFAULT_PERIODS = {"month": 24, "week": 26}
MAX_PERIODS = {"month": 120, "week": 260}


@dataclass(frozen=True)
class TrendOptions:
    """What a request asked for, checked: the period and how many periods the series holds."""

    step: str = "month"
    periods: int = DEFAULT_PERIODS["month"]
    until: str | None = None  # the last period shown ("2025-06"); None: the latest complete one


def options_for(step: str, periods: int | None, audience: Audience) -> TrendOptions:
    """Check ``step`` and ``periods`` (400 with words a GIS clerk understands)."""
    if step not in stats.STEPS:
        raise BadRequest(f"step must be 'month' or 'week', not {step[:40]!r}.")
    if step == "week" and not audience.raw:
        raise BadRequest("Weekly trends are for police users only: published figures are monthly. Use step=month.")
    if periods is None:
        return TrendOptions(step, DEFAULT_PERIODS[step])
    if not 2 <= periods <= MAX_PERIODS[step]:
        raise BadRequest(f"periods must be between 2 and {MAX_PERIODS[step]} {step}s (got {periods}).")
    return TrendOptions(step, periods)


@dataclass(frozen=True)
class Series:
    """Counts per community (rows) and period (columns, oldest first; NaN: hidden), with what they are."""

    communities: list[dict[str, Any]]
    labels: list[str]
    counts: np.ndarray
    notes: list[str]
    unknown: str = stats.UNKNOWN  # why a count may be NaN, in words


def compstat_table(store: Store, settings: Settings, audience: Audience, options: TrendOptions) -> dict[str, Any]:
    """The CompStat table: one row per community of the active set this audience may see."""
    shown = _communities(store, audience)
    series = _series(store, settings, audience, options, shown, community_id=None)
    return {**_header(series, options), "communities": _rows(series, options)}


def community_trend(store: Store, settings: Settings, community_id: int, audience: Audience,
                    options: TrendOptions) -> dict[str, Any]:
    """One community's series and CompStat row (404 outside a partner's scope or the active set)."""
    found = store.boundaries.get_community_shape(community_id)
    if found is None or not audience.sees_community(found["name"]):
        raise NotFound(f"There is no community {community_id}.")
    if not found["is_active"]:
        raise NotFound(f"Community {community_id} belongs to a boundary set that is not active; trends are kept "
                       "for the communities of the active set.")
    shown = [{"id": found["id"], "name": found["name"]}]
    series = _series(store, settings, audience, options, shown, community_id=community_id)
    rows = _rows(series, options)
    values = series.counts[0] if len(series.labels) else np.zeros(0)
    return {**_header(series, options), "community_id": community_id, "community": found["name"],
            "series": [{"period": label, "incidents": _count(v)} for label, v in zip(series.labels, values, strict=True)],
            "compstat": rows[0] if rows else None}


def _communities(store: Store, audience: Audience) -> list[dict[str, Any]]:
    if audience.raw:
        return store.boundaries.list_active_communities()
    return audience.keep(store.boundaries.list_active_communities_aggregated(), key="name")


def _series(store: Store, settings: Settings, audience: Audience, options: TrendOptions,
            communities: list[dict[str, Any]], community_id: int | None) -> Series:
    if audience.raw:
        return _exact_series(store, settings, options, communities, community_id)
    return _published_series(store, settings, audience, options, communities, community_id)


def _exact_series(store: Store, settings: Settings, options: TrendOptions,
                  communities: list[dict[str, Any]], community_id: int | None) -> Series:
    """Police: exact counts, zeros filled, in the whole periods from the first incident to the latest complete
    period (a period the data only partly cover, at either end, is left out)."""
    zone, step = settings.zone, options.step
    span = store.boundaries.incident_time_range()
    if span is None:
        return Series(communities, [], np.zeros((len(communities), 0)), ["No incidents are recorded yet."])
    first_day, last_day = (moment.astimezone(zone).date() for moment in span)
    covered = min(last_day + timedelta(days=1), datetime.now(zone).date())
    periods = time_steps(_midnight(first_day), _midnight(covered), step, zone)
    notes = [f"Incidents are recorded from {first_day.isoformat()} to {last_day.isoformat()}; only {step}s "
             "they cover whole are shown, the latest complete one last."]
    whole = _up_to(list(periods.labels), options.until)
    bounds, labels = list(periods.bounds[:whole + 1][-(options.periods + 1):]), list(periods.labels[:whole][-options.periods:])
    if not labels:
        return Series(communities, [], np.zeros((len(communities), 0)), notes + [f"No whole {step} is recorded yet."])
    rows = store.boundaries.incident_counts_per_period([b.astimezone(UTC) for b in bounds], community_id=community_id)
    counts = _matrix(communities, len(labels), rows, lambda period: period, fill=0.0)
    return Series(communities, labels, counts, notes)


def _published_series(store: Store, settings: Settings, audience: Audience, options: TrendOptions,
                      communities: list[dict[str, Any]], community_id: int | None) -> Series:
    """Below analyst: the published monthly sums only; a month with nothing published is hidden."""
    notes = [f"Published monthly figures: sensitive categories are left out, and so is each category's month "
             f"with fewer than {audience.min_count} incidents. A month with nothing published is hidden (fewer "
             f"than {audience.min_count}, or none) and is never tested; changes are changes of the published figures."]
    every = store.boundaries.published_months(settings.timezone)  # the whole set fixes the latest month
    if not every:
        return Series(communities, [], np.zeros((len(communities), 0)), notes + ["No month has been published yet."])
    first, last = (date.fromisoformat(month + "-01") for month in (min(r["month"] for r in every),
                                                                      max(r["month"] for r in every)))
    months = time_steps(_midnight(first), _midnight(last + timedelta(days=31)), "month", settings.zone)
    labels = list(months.labels[:_up_to(list(months.labels), options.until)][-options.periods:])
    column = {label: j for j, label in enumerate(labels)}
    rows = [r for r in every if community_id is None or r["community_id"] == community_id]
    counts = _matrix(communities, len(labels), rows, lambda month: column.get(month), fill=np.nan, key="month")
    return Series(communities, labels, counts, notes,
                  unknown=f"a month is hidden (fewer than {audience.min_count} published)")


def _up_to(labels: list[str], until: str | None) -> int:
    """How many of ``labels`` (oldest first) end no later than the period ``until`` (all when None)."""
    return len(labels) if until is None else sum(label <= until for label in labels)


def _midnight(day: date) -> datetime:
    """Local midnight starting ``day`` (naive: ``time_steps`` reads it in the service's zone)."""
    return datetime.combine(day, time(0))


def _matrix(communities: list[dict[str, Any]], periods: int, rows: list[dict[str, Any]],
            column_of: Callable[[Any], int | None], fill: float, key: str = "period") -> np.ndarray:
    row = {c["id"]: i for i, c in enumerate(communities)}
    counts = np.full((len(communities), periods), fill)
    for r in rows:
        i, j = row.get(r["community_id"]), column_of(r[key])
        if i is not None and j is not None:
            counts[i, j] = r["incidents"]
    return counts


def _header(series: Series, options: TrendOptions) -> dict[str, Any]:
    return {"step": options.step, "periods": series.labels, "latest_complete": series.labels[-1] if series.labels else None,
            "alpha": stats.ALPHA, "notes": series.notes}


def _rows(series: Series, options: TrendOptions) -> list[dict[str, Any]]:
    """One CompStat row per community (none when fewer than two complete periods are known)."""
    if len(series.labels) < 2:
        return []
    figures = stats.compstat(series.counts, options.step, unknown=series.unknown)
    return [_row(series, figures, i, options.step) for i in range(len(series.communities))]


def _row(series: Series, figures: stats.CompStat, i: int, step: str) -> dict[str, Any]:
    labels = series.labels
    year = figures.year_earlier
    trend = figures.trend
    return {
        "community_id": series.communities[i]["id"], "community": series.communities[i]["name"],
        "this_period": {"period": labels[-1], "incidents": _count(figures.last_period.after[i])},
        "last_period": {"period": labels[-2], "incidents": _count(figures.last_period.before[i])},
        "change": _change(figures.last_period, i),
        "year_earlier": None if year is None else {"period": labels[-13], "incidents": _count(year.before[i]),
                                                   "change": _change(year, i)},
        "trend": {"periods": int(trend.periods[i]), "tau": _number(trend.tau[i]), "p": _number(trend.p[i]),
                  "sens_slope": _number(trend.slope[i]), "verdict": trend.verdict[i]},
        "dispersion": {"phi": _number(figures.dispersion.phi[i]),
                       "verdict": stats.dispersion_words(figures.dispersion, i, stats.UNIT[step])},
    }


def _change(change: stats.CountChange, i: int) -> dict[str, Any]:
    return {"incidents": _count(change.change[i]), "percent": _number(change.percent[i], 1),
            "p": _number(change.p[i]), "significant": bool(change.significant[i]),
            "too_few": bool(change.smallest_p[i] >= stats.ALPHA),
            "rate_ratio_95": [_number(change.ratio_low[i]), _number(change.ratio_high[i])],
            "verdict": change.verdict[i]}


def _count(value: float) -> int | None:
    """A count as JSON: an integer, or null when not known (hidden)."""
    return int(value) if np.isfinite(value) else None


def _number(value: float, digits: int | None = None) -> float | None:
    """A statistic as JSON: NaN (not computed) and infinity (no upper bound) as null."""
    if not np.isfinite(value):
        return None
    return round(float(value), digits) if digits is not None else float(value)
