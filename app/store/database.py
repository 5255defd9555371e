"""The database itself: is it ready, and which role a request's session runs as (the second wall
of the privacy tiers). PostGIS switches to the restricted role; SQLite has no roles.

Who runs as the restricted role is decided once, in ``app.auth.sign_in``; this module only
knows how, and holds the pool's guards that keep the role from leaking between requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.store.sql import BoundToSession

if TYPE_CHECKING:
    from psycopg import AsyncConnection

RESTRICTED_DB_ROLE = "hotspots_restricted"
# Set on a pooled connection's info while it runs as the restricted database role.
RESTRICTED_MARK = "restricted_role"


class LostRestrictedRole(RuntimeError):
    """A restricted request's connection was replaced (a reconnect) and no longer has the role."""


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


async def restrict_transaction(conn: AsyncConnection) -> None:
    """The rest of the open transaction runs as the restricted role; it ends with the transaction
    (``SET LOCAL``), so the connection goes back to the pool as the service's own role.
    PostGIS only: the async tile path it serves runs only there."""
    await conn.execute(f"SET LOCAL ROLE {RESTRICTED_DB_ROLE}")


def reset_role_on_checkin(engine: Engine) -> None:
    """A request that ran as the restricted role must not hand that role to the next one."""

    @event.listens_for(engine, "checkin")
    def _reset_role(dbapi_connection: Any, record: Any) -> None:
        if not record.info.pop(RESTRICTED_MARK, False):
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
            dbapi_connection.commit()
        except Exception:  # noqa: BLE001 - a broken connection is discarded by the pool anyway
            pass


def refuse_lost_role(session: Session) -> None:
    """Refuse any statement of a restricted request on a connection that lost the role."""
    event.listen(session, "do_orm_execute", _still_restricted)


def _still_restricted(state: Any) -> None:
    session = state.session
    if session.info.get("restricted") and not session.connection().info.get(RESTRICTED_MARK):
        raise LostRestrictedRole("the restricted database role was lost; refusing to run as the owner")
