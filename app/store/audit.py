"""The audit log: append and read (there is no update or delete, by design and by trigger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, null, text
from sqlalchemy.orm import Session

from app.store.backend import is_sqlite
from app.store.sqlite.audit_writer import writer_for
from app.store.sqlite.connection import READ_ONLY
from models import AuditEvent


def append(session: Session, *, action: str, outcome: str, user_id: int | None, user_name: str | None,
           role: str | None, target: str | None, client_ip: str | None, details: dict[str, Any] | None) -> None:
    # Inline: no RETURNING, which would need SELECT on the log (the restricted role may only insert).
    entry = insert(AuditEvent).inline().values(
        user_id=user_id, user_name=user_name, role=role, action=action, target=target, outcome=outcome,
        client_ip=client_ip, details=json.loads(json.dumps(details, default=str)) if details else null(),
    )
    connection = session.connection()
    if connection.get_execution_options().get(READ_ONLY):
        # A read (an export, a query) on the embedded store: its read snapshot cannot write, and waiting
        # for the write lock would hold the read behind an import. A background writer adds the entry,
        # stamped now.
        writer_for(connection.engine).put(entry.values(at=datetime.now(UTC)))
        return
    session.execute(entry)


def _where(action: str | None, user: str | None, start: datetime | None, end: datetime | None):
    clauses, params = [], {}
    for name, value, clause in (("action", action, "action = :action"), ("user", user, "user_name = :user"),
                                ("start", start, "at >= :start"), ("end", end, "at < :end")):
        if value is not None:
            clauses.append(clause)
            params[name] = value
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _columns(session: Session) -> str:
    address = "client_ip" if is_sqlite(session) else "host(client_ip) AS client_ip"  # inet prints a /32 mask
    return f"id, at, user_id, user_name, role, action, target, outcome, {address}, details"


def page(session: Session, *, limit: int, before_id: int | None, action: str | None = None, user: str | None = None,
         start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
    where, params = _where(action, user, start, end)
    if before_id is not None:
        where += (" AND " if where else " WHERE ") + "id < :before"
        params["before"] = before_id
    rows = session.execute(text(f"SELECT {_columns(session)} FROM audit_events{where} ORDER BY id DESC LIMIT :limit"),
                           {**params, "limit": limit})
    return [dict(r._mapping) for r in rows]


def stream(session: Session, *, action: str | None = None, user: str | None = None,
           start: datetime | None = None, end: datetime | None = None) -> Iterator[dict[str, Any]]:
    where, params = _where(action, user, start, end)
    result = session.execute(text(f"SELECT {_columns(session)} FROM audit_events{where} ORDER BY id"), params,
                             execution_options={"stream_results": True, "yield_per": 2000})
    for row in result:
        yield dict(row._mapping)
