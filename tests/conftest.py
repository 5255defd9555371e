"""Tests run against a real PostGIS database.

The database named by ``HOTSPOTS_TEST_DATABASE_URL`` is migrated once per
session (``scripts/test.sh`` makes a throwaway one); each test runs inside a
transaction that is rolled back, with the app's sessions joined to it through
savepoints (SQLAlchemy's ``join_transaction_mode="create_savepoint"`` recipe).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.main import create_app
from app.services.accounts import create_user_with_token
from app.settings import Settings
from app.store.backends import POSTGIS, Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATABASE_URL = os.environ.get(
    "HOTSPOTS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/hotspots_test"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data not found at {SHARED_DATA}; ../shared must sit beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="test", database_url=TEST_DATABASE_URL, statement_timeout_ms=0,
                    analysis_worker="inline", auth_cache_s=0)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    from alembic import command

    from app.cli import alembic_config

    engine = create_engine(settings.database_url)
    command.upgrade(alembic_config(settings.database_url), "head")
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def store(session: Session) -> Store:
    """The PostGIS store working through the test's session."""
    return POSTGIS.bind(session)


@pytest.fixture
def app(settings: Settings, connection: Connection, session_factory: sessionmaker[Session]):
    app = create_app(settings, engine=connection.engine, start_worker=False)
    return app


@pytest.fixture
def client(app, session_factory) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        app.state.sessionmaker = session_factory  # every request joins the test's transaction
        app.state.run_worker.sessions = session_factory
        yield test_client


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    """One API token per role."""
    return {role: create_user_with_token(store, f"test-{role}", role) for role in ("viewer", "analyst", "gis", "admin")}


@pytest.fixture(scope="module")
def committed_database(request) -> Iterator[str]:
    """A migrated database of the module's own, for code that commits (CLI, crash tests).

    Yields its SQLAlchemy URL; the database is dropped afterwards.
    """
    import psycopg
    from alembic import command

    from app.cli import alembic_config

    base, _, name = TEST_DATABASE_URL.rpartition("/")
    database = f"{name}_{request.module.__name__.rsplit('.', 1)[-1]}"[:63]
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    url = f"{base}/{database}"
    command.upgrade(alembic_config(url), "head")
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
