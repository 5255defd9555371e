"""Database readiness."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def database_status(session: Session) -> dict[str, Any]:
    try:
        version = session.execute(text("SELECT postgis_lib_version()")).scalar_one()
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except DBAPIError:
        session.rollback()
        return {"status": "unavailable", "database": "unreachable or not migrated"}
    return {"status": "ready", "postgis": version, "schema_revision": revision}
