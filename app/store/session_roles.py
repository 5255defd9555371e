"""Running a request as the restricted database role (the second wall of the privacy tiers)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import RESTRICTED_MARK
from app.store.backend import is_sqlite

RESTRICTED_DB_ROLE = "hotspots_restricted"


def restrict(session: Session) -> None:
    """From now on this session cannot read raw incidents.

    Committed, so a later rollback keeps it; the session must be bound to one
    connection for the request (``app.db.RequestSessions``) or the role would
    be lost with the connection at the next commit.
    """
    if not is_sqlite(session):  # the embedded store has no roles: the service's own checks are the wall
        session.execute(text(f"SET ROLE {RESTRICTED_DB_ROLE}"))
    session.connection().info[RESTRICTED_MARK] = True  # the pool resets the role on check-in
    session.commit()
    session.info["restricted"] = True


def unrestrict(session: Session) -> None:
    if not is_sqlite(session):
        session.execute(text("RESET ROLE"))
    session.connection().info.pop(RESTRICTED_MARK, None)
    session.commit()
