"""The restricted database role (the second wall of the privacy tiers): every statement that
enters or leaves it, and the pool's guards that keep a role from leaking between requests.

Who runs as it is decided once, in ``app.auth.sign_in``; this module only knows how.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from app.store.backend import is_sqlite

if TYPE_CHECKING:
    from psycopg import AsyncConnection

RESTRICTED_DB_ROLE = "hotspots_restricted"
# Set on a pooled connection's info while it runs as the restricted database role.
RESTRICTED_MARK = "restricted_role"


class LostRestrictedRole(RuntimeError):
    """A restricted request's connection was replaced (a reconnect) and no longer has the role."""


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


async def restrict_transaction(conn: AsyncConnection) -> None:
    """The rest of the open transaction runs as the restricted role; it ends with the transaction
    (``SET LOCAL``), so the connection goes back to the pool as the service's own role."""
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
