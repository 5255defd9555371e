"""The store's contract suite: every test here runs on both backends, PostGIS and embedded SQLite.

``store`` is one parametrised fixture: the same migrated schema (the same
Alembic revisions), the same service and store functions, a transaction
rolled back after each test (savepoints for the code's own commits). The
store notes which protocol methods the tests (and the services they call)
use on each backend; test_every_protocol_method.py holds the suite to all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from fastapi.testclient import TestClient
from alembic import command
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.cli import alembic_config
from app.services.sensitive_categories import sync_settings
from app.settings import Settings
from app.store.backends import POSTGIS, SQLITE, Backend, Store
from app.store.sqlite.connection import make_sqlite_engine
from tests.conftest import TEST_DATABASE_URL

BACKENDS = {"postgis": POSTGIS, "sqlite": SQLITE}
# The protocol of each part of a Store (``store.runs``: RunStore, ...), from the Backend's fields.
PROTOCOLS = {name: get_args(hint)[-1] for name, hint in get_type_hints(Backend).items() if get_args(hint)}
# Per backend, the (part, method) pairs the contract tests used.
EXERCISED: dict[str, set[tuple[str, str]]] = {name: set() for name in BACKENDS}
CONTRACT_RUN = {"complete": False}


def protocol_methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


class Noting:
    """A part of the store under test that notes each method taken from it, then hands it out."""

    def __init__(self, part: Any, name: str, noted: set[tuple[str, str]]) -> None:
        self._part, self._name, self._noted = part, name, noted

    def __getattr__(self, method: str) -> Any:
        found = getattr(self._part, method)
        if callable(found):
            self._noted.add((self._name, method))
        return found


class StoreUnderTest(Store):
    """One backend's store, ready for a test: bound to a session inside the test's transaction, with
    the backend's name, its settings, the connection and a factory of more sessions in the transaction."""

    def __init__(self, name: str, settings: Settings, connection: Connection, session: Session,
                 sessions: sessionmaker[Session]) -> None:
        super().__init__(BACKENDS[name], session)
        self.name = name
        self.settings = settings
        self.connection = connection
        self.sessions = sessions
        for part in PROTOCOLS:
            setattr(self, part, Noting(getattr(self, part), part, EXERCISED[name]))


@pytest.fixture(scope="session")
def backend_engines(tmp_path_factory) -> Iterator[dict[str, tuple[Settings, Engine]]]:
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'contract.sqlite'}"
    engines: dict[str, tuple[Settings, Engine]] = {}
    for name, url in (("postgis", TEST_DATABASE_URL), ("sqlite", sqlite_url)):
        settings = Settings(environment="test", database_url=url, statement_timeout_ms=0,
                            analysis_worker="inline", auth_cache_s=0)
        command.upgrade(alembic_config(url), "head")
        engine = make_sqlite_engine(url) if name == "sqlite" else create_engine(url)
        # What the service does at start-up, done here once and committed: inside a test the SQLite
        # file is held by the test's own transaction, so the service's start-up write cannot land there.
        with Session(engine) as session:
            sync_settings(BACKENDS[name].bind(session), settings)
            session.commit()
        engines[name] = (settings, engine)
    yield engines
    for _, engine in engines.values():
        engine.dispose()


def _open(name: str, backend_engines) -> Iterator[StoreUnderTest]:
    settings, engine = backend_engines[name]
    with engine.connect() as connection:
        outer = connection.begin()
        sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        with sessions() as session:
            yield StoreUnderTest(name, settings, connection, session, sessions)
        outer.rollback()


@pytest.fixture(params=list(BACKENDS))
def store(request, backend_engines) -> Iterator[StoreUnderTest]:
    yield from _open(request.param, backend_engines)


@pytest.fixture
def client(store: StoreUnderTest) -> Iterator[TestClient]:
    """The service over HTTP on the store under test: every request joins the test's transaction."""
    from app.main import create_app

    app = create_app(store.settings, engine=store.connection.engine, start_worker=False)
    with TestClient(app) as test_client:
        app.state.sessionmaker = store.sessions
        app.state.run_worker.sessions = store.sessions
        yield test_client


@pytest.fixture
def postgis_store(backend_engines) -> Iterator[StoreUnderTest]:
    yield from _open("postgis", backend_engines)


@pytest.fixture
def sqlite_store(backend_engines) -> Iterator[StoreUnderTest]:
    yield from _open("sqlite", backend_engines)


SAMPLE_BOUNDARIES = Path(__file__).resolve().parents[2] / "app" / "data" / "kna_parishes.geojson"


def pytest_collection_finish(session) -> None:
    """Whether every contract module was collected with no selection: only then can the suite be held
    to every protocol method."""
    here = Path(__file__).parent
    modules = {item.path for item in session.items if item.path.parent == here}
    options = session.config.option
    CONTRACT_RUN["complete"] = (modules == set(here.glob("test_*.py"))
                                and not options.keyword and not options.markexpr)


def pytest_collection_modifyitems(items) -> None:
    """The check of what the suite used runs after everything else."""
    items.sort(key=lambda item: item.path.name == "test_every_protocol_method.py")
