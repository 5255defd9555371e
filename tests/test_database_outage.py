"""With the database unreachable the service answers 503 with Retry-After, never 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import auth


def test_unreachable_database_gives_503_with_retry_after():
    settings = Settings(environment="test", database_url="postgresql+psycopg://postgres@127.0.0.1:9/nowhere",
                        analysis_worker="inline")
    app = create_app(settings, start_worker=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        response = client.get("/api/v1/incidents", headers=auth("hs_anything"))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        body = response.json()["error"]
        assert "database" in body["message"] and body["request_id"]
        assert "psycopg" not in response.text and "127.0.0.1" not in response.text


def test_statement_timeout_is_a_503_that_says_so(app, client, tokens, monkeypatch):
    from sqlalchemy import text

    from app.store.incidents import Incidents

    def slow(incidents, *args, **kwargs):
        incidents.session.execute(text("SET LOCAL statement_timeout = 50"))
        incidents.session.execute(text("SELECT pg_sleep(1)"))

    monkeypatch.setattr(Incidents, "list_incidents", slow)
    response = client.get("/api/v1/incidents", headers=auth(tokens["analyst"]))
    assert response.status_code == 503
    assert "took too long" in response.json()["error"]["message"]
