"""Audit entries for each audited action; the log cannot be changed; abuse limits answer 429."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA


def _entries(client, token, **params) -> list[dict]:
    response = client.get("/api/v1/audit", headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def _csv_upload(client, token, tmp_path, content: str):
    path = tmp_path / "incidents.csv"
    path.write_text(content)
    with path.open("rb") as handle:
        return client.post("/api/v1/incidents/imports", headers=auth(token),
                           files={"file": ("incidents.csv", handle)}, data={"source": "audit-test"})


def test_each_audited_action_is_recorded(client, tokens, tmp_path):
    admin, analyst, gis = tokens["admin"], tokens["analyst"], tokens["gis"]
    client.get("/api/v1/incidents", headers=auth("hs_wrong"))                        # failed authentication
    client.get("/api/v1/incidents", headers=auth(analyst), params={"category": "Theft"})  # raw read
    _csv_upload(client, analyst, tmp_path, "id,latitude,longitude,date\n1,17.3,-62.7,2024-01-01\n")  # upload ok
    _csv_upload(client, analyst, tmp_path, "nothing,useful\n1,2\n")                   # upload refused
    with KNA.open("rb") as handle:
        set_id = client.post("/api/v1/boundary-sets", headers=auth(gis),
                             files={"file": ("parishes.geojson", handle)}).json()["id"]
    client.post(f"/api/v1/boundary-sets/{set_id}/activate", headers=auth(gis))
    created = client.post("/api/v1/users", headers=auth(admin), json={"name": "council", "role": "viewer"}).json()
    user_id = next(u["id"] for u in client.get("/api/v1/users", headers=auth(admin)).json()["users"]
                   if u["name"] == "council")
    client.post(f"/api/v1/users/{user_id}/tokens/revoke", headers=auth(admin))
    client.get("/api/v1/audit", headers=auth(admin), params={"format": "csv"})      # export

    entries = _entries(client, admin, limit=100)
    seen = {(e["action"], e["outcome"]) for e in entries}
    assert {("auth.failed", "refused"), ("incidents.read", "ok"), ("incidents.import", "ok"),
            ("incidents.import", "refused"), ("boundaries.upload", "ok"), ("boundaries.activate", "ok"),
            ("token.create", "ok"), ("token.revoke", "ok"), ("export.audit", "ok")} <= seen
    read = next(e for e in entries if e["action"] == "incidents.read")
    assert read["user_name"] == "test-analyst" and read["role"] == "analyst"
    assert read["details"]["filters"] == [["category", "Theft"]]
    refused = next(e for e in entries if e["action"] == "incidents.import" and e["outcome"] == "refused")
    assert "latitude" in refused["details"]["reason"]
    assert created["token"] not in str(entries)  # tokens never reach the log
    # the revoked user's token no longer works
    assert client.get("/api/v1/communities", headers=auth(created["token"])).status_code == 401


def test_audit_is_admin_only_and_exports_csv(client, tokens):
    for role in ("viewer", "analyst", "gis"):
        assert client.get("/api/v1/audit", headers=auth(tokens[role])).status_code == 403
    client.get("/api/v1/incidents", headers=auth(tokens["analyst"]))
    exported = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert any(r["action"] == "incidents.read" for r in rows)
    assert set(rows[0]) >= {"at", "user_name", "action", "target", "outcome", "client_ip"}


def test_audit_entries_cannot_be_changed(store, client, tokens):
    client.get("/api/v1/incidents", headers=auth(tokens["analyst"]))
    for statement in ("UPDATE audit_events SET outcome = 'ok'", "DELETE FROM audit_events",
                      "TRUNCATE audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with store.session.begin_nested():
                store.session.execute(text(statement))
    methods = {m for path, ops in client.app.openapi()["paths"].items() if path.startswith("/api/v1/audit")
               for m in ops}
    assert methods == {"get"}


def test_failed_authentication_is_rate_limited(app, client):
    app.state.limits["failed_auth"].per_address.limit = 3
    statuses = [client.get("/api/v1/communities", headers=auth(f"hs_guess{i}")).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    limited = client.get("/api/v1/communities", headers=auth("hs_guess"))
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in limited.json()["error"]["message"]


def test_bad_tokens_from_one_address_never_lock_out_a_valid_token(app, client, tokens):
    """Behind one NAT: ten wrong tokens, then the admin's valid token from the same address works."""
    statuses = [client.get("/api/v1/communities", headers=auth(f"hs_wrong{i}")).status_code for i in range(10)]
    assert statuses == [401] * 10
    assert client.get("/api/v1/users", headers=auth(tokens["admin"])).status_code == 200
    # Even past the address-wide limit the valid token is looked up and let in; only failures get 429.
    app.state.limits["failed_auth"].per_address.limit = 10
    assert client.get("/api/v1/communities", headers=auth("hs_wrong-again")).status_code == 429
    assert client.get("/api/v1/users", headers=auth(tokens["admin"])).status_code == 200


def test_the_same_wrong_token_is_refused_before_its_lookup(app, client, tokens):
    """A script repeating one wrong token is stopped (429) without touching anyone else."""
    statuses = [client.get("/api/v1/communities", headers=auth("hs_stale")).status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429] * 2
    assert client.get("/api/v1/communities", headers=auth("hs_other-wrong")).status_code == 401
    assert client.get("/api/v1/communities", headers=auth(tokens["viewer"])).status_code == 200


def test_analysis_submissions_are_rate_limited(app, client, tokens):
    app.state.limits["heavy"].limit = 2
    statuses = [client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={}).status_code
                for _ in range(3)]
    assert statuses[:2] == [409, 409]  # no boundaries yet, but counted as heavy requests
    assert statuses[2] == 429


def test_exports_are_rate_limited(app, client, tokens):
    app.state.limits["heavy"].limit = 1
    admin = auth(tokens["admin"])
    first = client.get("/api/v1/audit", headers=admin, params={"format": "csv"})
    second = client.get("/api/v1/audit", headers=admin, params={"format": "csv"})
    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second.headers["Retry-After"]) > 0
