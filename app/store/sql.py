"""SQL fragments for both stores: value lists, LIKE lists, JSON fields, months, time cut-offs, boxes.

Values are always bound; parameter names are made here from fixed prefixes and positions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.store.backend import is_sqlite


def in_list(session: Session, column: str, values: list[Any], name: str) -> tuple[str, dict[str, Any]]:
    """``column`` is one of ``values``, bound as one parameter (an empty list matches nothing):
    an array on PostgreSQL, a JSON array on SQLite (no limit on how many values)."""
    if is_sqlite(session):
        return f"{column} IN (SELECT value FROM json_each(:{name}))", {name: json.dumps(list(values))}
    return f"{column} = ANY(:{name})", {name: list(values)}


def window_and_lists(session: Session, start: datetime | None, end: datetime | None,
                     **lists: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """``occurred_at`` in [start, end) and each named column in its list (an empty list: no condition)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if start is not None:
        clauses.append("occurred_at >= :start")
        params["start"] = start
    if end is not None:
        clauses.append("occurred_at < :end")
        params["end"] = end
    for column, values in lists.items():
        if values:
            clause, more = in_list(session, column, list(values), column)
            clauses.append(clause)
            params.update(more)
    return clauses, params


def json_int(session: Session, column: str, key: str) -> str:
    """SQL for an integer field of a JSON column (``key`` from the store's own code, never a request)."""
    if is_sqlite(session):
        return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"
    return f"({column}->>'{key}')::int"


def json_text(session: Session, column: str, key: str) -> str:
    """SQL for a text field of a JSON column (``key`` from the store's own code, never a request)."""
    if is_sqlite(session):
        return f"json_extract({column}, '$.{key}')"
    return f"({column}->>'{key}')"


def json_flag(session: Session, column: str, key: str) -> str:
    """SQL for a true/false field of a JSON column, false when missing (1/0 on SQLite)."""
    if is_sqlite(session):
        return f"coalesce(json_extract({column}, '$.{key}'), 0)"
    return f"coalesce(({column}->>'{key}')::boolean, false)"


def month_cutoff(days: int, zone: str) -> datetime:
    """The start (in ``zone``) of the calendar month holding ``now() - days``, in UTC: community
    figures below analyst count only months that ended at least the hold-back ago."""
    moment = (datetime.now(UTC) - timedelta(days=max(days, 0))).astimezone(ZoneInfo(zone))
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def local_month(session: Session, column: str) -> str:
    """SQL for 'YYYY-MM' of a stored time in the zone bound as ``:zone``."""
    if is_sqlite(session):
        return f"local_month({column}, :zone)"
    return f"to_char(date_trunc('month', {column} AT TIME ZONE :zone), 'YYYY-MM')"


def not_sensitive(column: str) -> str:
    """The category in ``column`` was classed and found not sensitive (``incident_categories``,
    filled in Python by app/services/sensitive_categories.py); a category not classed yet is
    left out too, so nothing slips through between an import and its classing."""
    return f"coalesce({column}, '') IN (SELECT name FROM incident_categories WHERE NOT sensitive)"


def hold_back_cutoff(days: int) -> datetime:
    """Incidents before this time are old enough to show (``now() - hold_back_days``)."""
    return datetime.now(UTC) - timedelta(days=max(days, 0))


def point_in_box(session: Session) -> str:
    """Incidents inside the box bound as ``:west, :south, :east, :north`` (GiST on PostGIS)."""
    if is_sqlite(session):
        return "lat BETWEEN :south AND :north AND lon BETWEEN :west AND :east"
    return "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"
