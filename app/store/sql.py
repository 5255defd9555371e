"""SQL fragments for both stores: value lists, JSON fields, months, time cut-offs, boxes.

``SqlDialect`` is what differs between PostgreSQL and SQLite in a fragment
(``PostgisSql`` here, ``app.store.sqlite.sql.SQLiteSql`` there); each store
object holds the dialect of its backend, chosen once when the store is built.
Values are always bound; parameter names are made here from fixed prefixes and positions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Result
from sqlalchemy.orm import Session


class SqlDialect(ABC):
    """The SQL fragments whose text depends on the database."""

    @abstractmethod
    def in_list(self, column: str, values: list[Any], name: str) -> tuple[str, dict[str, Any]]:
        """``column`` is one of ``values``, bound as one parameter (an empty list matches nothing)."""

    @abstractmethod
    def json_int(self, column: str, key: str) -> str:
        """SQL for an integer field of a JSON column (``key`` from the store's own code, never a request)."""

    @abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """SQL for a text field of a JSON column (``key`` from the store's own code, never a request)."""

    @abstractmethod
    def json_flag(self, column: str, key: str) -> str:
        """SQL for a true/false field of a JSON column, false when missing."""

    @abstractmethod
    def local_month(self, column: str) -> str:
        """SQL for 'YYYY-MM' of a stored time in the zone bound as ``:zone``."""

    @abstractmethod
    def point_in_box(self) -> str:
        """Incidents inside the box bound as ``:west, :south, :east, :north``."""

    @abstractmethod
    def shape_in_box(self, alias: str) -> str:
        """Rows of ``alias`` (a cell table or view) whose shape intersects the box bound as
        ``:west, :south, :east, :north`` (exactly, not only their bounding boxes)."""

    def window_and_lists(self, start: datetime | None, end: datetime | None,
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
                clause, more = self.in_list(column, list(values), column)
                clauses.append(clause)
                params.update(more)
        return clauses, params


class PostgisSql(SqlDialect):
    """PostgreSQL's fragments: arrays, jsonb operators, a GiST box search."""

    def in_list(self, column: str, values: list[Any], name: str) -> tuple[str, dict[str, Any]]:
        return f"{column} = ANY(:{name})", {name: list(values)}

    def json_int(self, column: str, key: str) -> str:
        return f"({column}->>'{key}')::int"

    def json_text(self, column: str, key: str) -> str:
        return f"({column}->>'{key}')"

    def json_flag(self, column: str, key: str) -> str:
        return f"coalesce(({column}->>'{key}')::boolean, false)"

    def local_month(self, column: str) -> str:
        return f"to_char(date_trunc('month', {column} AT TIME ZONE :zone), 'YYYY-MM')"

    def point_in_box(self) -> str:
        return "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"  # GiST

    def shape_in_box(self, alias: str) -> str:
        return f"ST_Intersects({alias}.geom, ST_MakeEnvelope(:west, :south, :east, :north, 4326))"  # GiST


class BoundToSession:
    """A part of the store bound to one session, with its backend's SQL dialect."""

    def __init__(self, session: Session, sql: SqlDialect) -> None:
        self.session = session
        self.sql = sql


def rows_changed(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed (0 when the driver cannot say)."""
    assert isinstance(result, CursorResult)  # what a DML statement's execute returns
    return result.rowcount or 0


def driver_connection(session: Session) -> Any:
    """The driver's own connection under the session (psycopg's for COPY, sqlite3's for PRAGMA)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None  # a connection checked out of the pool always has one
    return raw


def month_cutoff(days: int, zone: str) -> datetime:
    """The start (in ``zone``) of the calendar month holding ``now() - days``, in UTC: community
    figures below analyst count only months that ended at least the hold-back ago."""
    moment = (datetime.now(UTC) - timedelta(days=max(days, 0))).astimezone(ZoneInfo(zone))
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def step_number(column: str, bounds: Sequence[datetime]) -> tuple[str, dict[str, Any]]:
    """SQL numbering the time step of the time in ``column``: ``i`` when it lies before ``bounds[i + 1]``
    (the caller keeps only times in [bounds[0], bounds[-1])), and its bound parameters."""
    case = "CASE " + " ".join(f"WHEN {column} < :step_end_{i} THEN {i}" for i in range(len(bounds) - 1)) + " END"
    return case, {f"step_end_{i}": bound for i, bound in enumerate(bounds[1:])}


def not_sensitive(column: str) -> str:
    """The category in ``column`` was classed and found not sensitive (``incident_categories``,
    filled in Python by app/services/sensitive_categories.py); a category not classed yet is
    left out too, so nothing slips through between an import and its classing."""
    return f"coalesce({column}, '') IN (SELECT name FROM incident_categories WHERE NOT sensitive)"


def hold_back_cutoff(days: int) -> datetime:
    """Incidents before this time are old enough to show (``now() - hold_back_days``)."""
    return datetime.now(UTC) - timedelta(days=max(days, 0))
