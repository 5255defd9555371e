"""The database itself: is it ready, and which role a request's session runs as (the second wall
of the privacy tiers). PostGIS switches to the restricted role; SQLite has no roles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import RESTRICTED_MARK
from app.store.sql import BoundToSession

RESTRICTED_DB_ROLE = "hotspots_restricted"


class Database(BoundToSession):
    """Readiness and the session's role; a backend names itself (``NAME``), its version function
    (``VERSION``) and how it switches roles (``_set_role``)."""

    NAME = ""
    VERSION = ""

    def status(self) -> dict[str, Any]:
        try:
            version = self.session.execute(text(f"SELECT {self.VERSION}")).scalar_one()
            revision = self.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        except DBAPIError:
            self.session.rollback()
            return {"status": "unavailable", "database": "unreachable or not migrated"}
        return {"status": "ready", "store": self.NAME, self.NAME: version, "schema_revision": revision}

    def restrict(self) -> None:
        """From now on this session cannot read raw incidents.

        Committed, so a later rollback keeps it; the session must be bound to one
        connection for the request (``app.db.RequestSessions``) or the role would
        be lost with the connection at the next commit.
        """
        self._set_role(restricted=True)
        self.session.connection().info[RESTRICTED_MARK] = True  # the pool resets the role on check-in
        self.session.commit()
        self.session.info["restricted"] = True

    def unrestrict(self) -> None:
        self._set_role(restricted=False)
        self.session.connection().info.pop(RESTRICTED_MARK, None)
        self.session.commit()

    def _set_role(self, *, restricted: bool) -> None:
        raise NotImplementedError


class PostgisDatabase(Database):
    NAME = "postgis"
    VERSION = "postgis_lib_version()"

    def _set_role(self, *, restricted: bool) -> None:
        self.session.execute(text(f"SET ROLE {RESTRICTED_DB_ROLE}" if restricted else "RESET ROLE"))

