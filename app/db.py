"""Engine and session factory, created by the app's lifespan or the CLI (never at import)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.settings import Settings
from app.store.session_roles import LostRestrictedRole, RESTRICTED_MARK, refuse_lost_role, reset_role_on_checkin
from app.store.sqlite.connection import READ_ONLY, WAIT_S, make_sqlite_engine

__all__ = ["LostRestrictedRole", "RESTRICTED_MARK", "RequestSessions", "make_engine", "make_sessionmaker"]


def make_engine(settings: Settings) -> Engine:
    """The engine of the configured store: PostGIS, or the embedded SQLite file."""
    if settings.embedded:
        return make_sqlite_engine(settings.database_url)
    # No pre-ping (a round trip on every request): after a database restart the first use of a
    # stale connection fails (503 with Retry-After), the pool is invalidated and refills.
    engine = create_engine(settings.database_url, pool_size=10, max_overflow=10)
    if settings.statement_timeout_ms:
        timeout = int(settings.statement_timeout_ms)

        @event.listens_for(engine, "connect")
        def _set_timeout(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {timeout}")
            dbapi_connection.commit()

    reset_role_on_checkin(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class RequestSessions:
    """Sessions that keep one connection for their whole life.

    A session bound to the engine gives its connection back to the pool at
    every commit, and the next statement may run on another connection; a
    request that switched to the restricted database role would silently
    lose it. Bound to one connection, a request keeps its role across
    commits, and the connection is reset when it goes back to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def __call__(self, read_only: bool = False, wait_s: float | None = None) -> Iterator[Session]:
        """On SQLite (PostgreSQL ignores both): ``read_only``, a request that should not need to write,
        does not take the write lock when it begins; ``wait_s``, how long a writer waits for the lock."""
        with self.engine.connect() as connection, Session(bind=connection, expire_on_commit=False) as session:
            if connection.dialect.name == "sqlite":
                connection.execution_options(**{READ_ONLY: read_only},
                                             **({WAIT_S: wait_s} if wait_s is not None else {}))
            refuse_lost_role(session)
            yield session

