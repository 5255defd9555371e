"""The store's contract suite: every test here runs on both backends, PostGIS and embedded SQLite.

``store`` is one parametrised fixture: the same migrated schema (the same
Alembic revisions), the same service and store functions, a transaction
rolled back after each test (savepoints for the code's own commits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.cli import alembic_config
from app.settings import Settings
from app.store.sqlite.connection import make_sqlite_engine
from tests.conftest import TEST_DATABASE_URL

BACKENDS = ("postgis", "sqlite")


@dataclass
class Store:
    """One backend, ready for a test: settings, a session inside the test's transaction, its factory."""

    name: str
    settings: Settings
    connection: Connection
    session: Session
    sessions: sessionmaker[Session]


@pytest.fixture(scope="session")
def backend_engines(tmp_path_factory) -> Iterator[dict[str, tuple[Settings, Engine]]]:
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'contract.sqlite'}"
    engines: dict[str, tuple[Settings, Engine]] = {}
    for name, url in (("postgis", TEST_DATABASE_URL), ("sqlite", sqlite_url)):
        settings = Settings(environment="test", database_url=url, statement_timeout_ms=0,
                            analysis_worker="inline", auth_cache_s=0)
        command.upgrade(alembic_config(url), "head")
        engines[name] = (settings, make_sqlite_engine(url) if name == "sqlite" else create_engine(url))
    yield engines
    for _, engine in engines.values():
        engine.dispose()


def _open(name: str, backend_engines) -> Iterator[Store]:
    settings, engine = backend_engines[name]
    with engine.connect() as connection:
        outer = connection.begin()
        sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        with sessions() as session:
            yield Store(name, settings, connection, session, sessions)
        outer.rollback()


@pytest.fixture(params=BACKENDS)
def store(request, backend_engines) -> Iterator[Store]:
    yield from _open(request.param, backend_engines)


@pytest.fixture
def postgis_store(backend_engines) -> Iterator[Store]:
    yield from _open("postgis", backend_engines)


@pytest.fixture
def sqlite_store(backend_engines) -> Iterator[Store]:
    yield from _open("sqlite", backend_engines)


SAMPLE_BOUNDARIES = Path(__file__).resolve().parents[2] / "app" / "data" / "kna_parishes.geojson"
