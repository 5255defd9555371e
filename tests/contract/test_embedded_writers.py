"""The embedded store with more than one writer: they take turns, nobody fails, readers read on.

SQLite has one writer at a time. Writers begin with the write lock (BEGIN
IMMEDIATE) and wait up to the busy timeout for it, so a transaction that reads
and then writes cannot fail because another committed in between; read-only
requests begin deferred and are never blocked by a writer (WAL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.cli import alembic_config
from app.db import RequestSessions
from app.store.sqlite.connection import make_sqlite_engine


def _engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_sqlite_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, role) VALUES ('w', 'admin')"))
    return engine


def test_a_reader_that_then_writes_waits_its_turn(tmp_path):
    engine = _engine(tmp_path)
    sessions = RequestSessions(engine)
    errors: list[Exception] = []
    started = threading.Event()

    def slow_writer() -> None:
        try:
            with sessions() as session:
                session.execute(text("SELECT count(*) FROM users")).scalar_one()  # read first
                started.set()
                time.sleep(0.3)
                session.execute(text("INSERT INTO users (name, role) VALUES ('a', 'viewer')"))
                session.commit()
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    def other_writer() -> None:
        try:
            started.wait(5)
            with sessions() as session:
                session.execute(text("INSERT INTO users (name, role) VALUES ('b', 'viewer')"))
                session.commit()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=other_writer)]
    for thread in threads:
        thread.start()
    # A read-only request reads while the writer holds the lock.
    started.wait(5)
    with sessions(read_only=True) as reader:
        assert reader.execute(text("SELECT count(*) FROM users")).scalar_one() >= 1
    for thread in threads:
        thread.join(10)
    assert errors == []
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT name FROM users")).scalars()) == ["a", "b", "w"]
    engine.dispose()


@dataclass
class Served:
    """The app on an embedded file, a signed-in client, and a second connection that can hold the lock."""

    client: TestClient
    headers: dict[str, str]
    engine: Engine
    app_engine: Engine
    held: object

    def hold_write_lock(self) -> None:  # another process writing for a long time (an import, say)
        self.held.driver_connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.held.driver_connection.in_transaction:
            self.held.driver_connection.rollback()


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    from app.main import create_app
    from app.services.accounts import create_user_with_token
    from app.settings import Settings
    from app.store.backends import SQLITE

    engine = _engine(tmp_path)
    with RequestSessions(engine)() as session:
        token = create_user_with_token(SQLITE.bind(session), "embedded-gis", "gis")
        session.commit()
    app = create_app(Settings(environment="test", database_url=str(engine.url), auth_cache_s=60),
                     start_worker=False)
    held = engine.raw_connection()
    try:
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/boundary-sets", headers=headers).status_code == 200  # token cached
            serving = Served(client, headers, engine, app.state.engine, held)
            yield serving
            serving.release()
    finally:
        held.close()
        engine.dispose()


def test_a_busy_database_answers_503_with_a_clear_message(served: Served, monkeypatch):
    """A request that writes waits for the lock a while (REQUEST_WAIT_S), then says the database is busy."""
    from app.api import deps

    monkeypatch.setattr(deps, "REQUEST_WAIT_S", 1)
    served.hold_write_lock()
    started = time.monotonic()
    response = served.client.post("/api/v1/boundary-sets/1/activate", headers=served.headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "busy" in response.json()["error"]["message"]
    assert 0.9 < time.monotonic() - started < 5


def test_audited_reads_answer_while_a_writer_holds_the_lock(served: Served):
    """An incident query is audited; on SQLite its entry waits for the lock, the answer does not."""
    from app.store.sqlite.audit_writer import writer_for

    served.hold_write_lock()
    started = time.monotonic()
    response = served.client.get("/api/v1/incidents", headers=served.headers, params={"limit": 5})
    assert response.status_code == 200 and time.monotonic() - started < 2
    writer = writer_for(served.app_engine)
    assert writer.pending.unfinished_tasks == 1  # the entry waits for the lock
    served.release()
    assert writer.flush(10)
    with served.engine.connect() as conn:
        actions = [tuple(a) for a in conn.execute(text("SELECT action, user_name FROM audit_events"))]
    assert ("incidents.read", "embedded-gis") in actions
