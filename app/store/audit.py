"""The audit log: append and read (there is no update or delete, by design and by trigger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert, null, text

from app.store.sql import BoundToSession
from models import AuditEvent


class AuditLog(BoundToSession):
    """The log's portable SQL; a backend says how an address reads back (``ADDRESS``)."""

    ADDRESS = "client_ip"

    def append(self, *, action: str, outcome: str, user_id: int | None, user_name: str | None,
               role: str | None, target: str | None, client_ip: str | None, details: dict[str, Any] | None) -> None:
        self.session.execute(audit_entry(details, action=action, outcome=outcome, user_id=user_id, user_name=user_name,
                                    role=role, target=target, client_ip=client_ip))

    def _columns(self) -> str:
        return f"id, at, user_id, user_name, role, action, target, outcome, {self.ADDRESS}, details"

    def page(self, *, limit: int, before_id: int | None, action: str | None = None, user: str | None = None,
             start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        where, params = _where(action, user, start, end)
        if before_id is not None:
            where += (" AND " if where else " WHERE ") + "id < :before"
            params["before"] = before_id
        rows = self.session.execute(
            text(f"SELECT {self._columns()} FROM audit_events{where} ORDER BY id DESC LIMIT :limit"),
            {**params, "limit": limit})
        return [dict(r._mapping) for r in rows]

    def stream(self, *, action: str | None = None, user: str | None = None,
               start: datetime | None = None, end: datetime | None = None) -> Iterator[dict[str, Any]]:
        where, params = _where(action, user, start, end)
        result = self.session.execute(text(f"SELECT {self._columns()} FROM audit_events{where} ORDER BY id"), params,
                                      execution_options={"stream_results": True, "yield_per": 2000})
        for row in result:
            yield dict(row._mapping)


class PostgisAuditLog(AuditLog):
    ADDRESS = "host(client_ip) AS client_ip"  # inet prints a /32 mask


def audit_entry(details: dict[str, Any] | None, **columns: Any) -> Insert:
    """The INSERT of one entry."""
    # Inline: no RETURNING, which would need SELECT on the log (the restricted role may only insert).
    return insert(AuditEvent).inline().values(
        **columns, details=json.loads(json.dumps(details, default=str)) if details else null())


def _where(action: str | None, user: str | None, start: datetime | None,
           end: datetime | None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    for name, value, clause in (("action", action, "action = :action"), ("user", user, "user_name = :user"),
                                ("start", start, "at >= :start"), ("end", end, "at < :end")):
        if value is not None:
            clauses.append(clause)
            params[name] = value
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
