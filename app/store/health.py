"""Database readiness."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.store.backend import is_sqlite


def database_status(session: Session) -> dict[str, Any]:
    try:
        engine = "sqlite_version()" if is_sqlite(session) else "postgis_lib_version()"
        version = session.execute(text(f"SELECT {engine}")).scalar_one()
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except DBAPIError:
        session.rollback()
        return {"status": "unavailable", "database": "unreachable or not migrated"}
    store = "sqlite" if is_sqlite(session) else "postgis"
    return {"status": "ready", "store": store, store: version, "schema_revision": revision}
