"""The embedded store with more than one writer: they take turns, nobody fails, readers read on.

SQLite has one writer at a time. Writers begin with the write lock (BEGIN
IMMEDIATE) and wait up to the busy timeout for it, so a transaction that reads
and then writes cannot fail because another committed in between; read-only
requests begin deferred and are never blocked by a writer (WAL).
"""

from __future__ import annotations

import threading
import time

from alembic import command
from sqlalchemy import text

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


def test_a_busy_database_answers_503_with_a_clear_message(tmp_path, monkeypatch):
    """A request that writes waits for the lock a while (REQUEST_WAIT_S), then says the database is busy."""
    from fastapi.testclient import TestClient

    from app.api import deps
    from app.main import create_app
    from app.services.accounts import create_user_with_token
    from app.settings import Settings

    engine = _engine(tmp_path)
    with RequestSessions(engine)() as session:
        token = create_user_with_token(session, "busy-gis", "gis")
        session.commit()
    settings = Settings(environment="test", database_url=str(engine.url), auth_cache_s=60)
    app = create_app(settings, start_worker=False)
    monkeypatch.setattr(deps, "REQUEST_WAIT_S", 1)
    held = engine.raw_connection()
    try:
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/boundary-sets", headers=headers).status_code == 200  # token cached
            held.driver_connection.execute("BEGIN IMMEDIATE")  # another process writing for a long time
            started = time.monotonic()
            response = client.post("/api/v1/boundary-sets/1/activate", headers=headers)
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert "busy" in response.json()["error"]["message"]
            assert 0.9 < time.monotonic() - started < 5
    finally:
        held.driver_connection.rollback()
        held.close()
        engine.dispose()


def test_audited_reads_answer_while_a_writer_holds_the_lock(tmp_path):
    """An analyst's incident query is audited; on SQLite its entry waits for the lock, the answer does not."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.services.accounts import create_user_with_token
    from app.settings import Settings
    from app.store.sqlite.audit_writer import writer_for

    engine = _engine(tmp_path)
    with RequestSessions(engine)() as session:
        token = create_user_with_token(session, "reading-analyst", "analyst")
        session.commit()
    settings = Settings(environment="test", database_url=str(engine.url), auth_cache_s=60)
    app = create_app(settings, start_worker=False)
    held = engine.raw_connection()
    try:
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/boundary-sets", headers=headers).status_code == 200  # token cached
            held.driver_connection.execute("BEGIN IMMEDIATE")  # an import, say
            started = time.monotonic()
            response = client.get("/api/v1/incidents", headers=headers, params={"limit": 5})
            assert response.status_code == 200 and time.monotonic() - started < 2
            writer = writer_for(app.state.engine)
            assert writer.pending.unfinished_tasks == 1  # the entry waits for the lock
            held.driver_connection.rollback()
            assert writer.flush(10)
            with engine.connect() as conn:
                actions = conn.execute(text("SELECT action, user_name FROM audit_events")).all()
            assert ("incidents.read", "reading-analyst") in [tuple(a) for a in actions]
    finally:
        if held.driver_connection.in_transaction:
            held.driver_connection.rollback()
        held.close()
        engine.dispose()
