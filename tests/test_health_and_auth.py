"""Health, readiness, tokens and roles."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import auth


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_postgis(client):
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["postgis"].startswith("3.")
    assert body["schema_revision"]


def test_points_need_a_token(client):
    response = client.get("/api/v1/incidents")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in response.json()["error"]["message"]


def test_bad_token_is_401(client):
    assert client.get("/api/v1/incidents", headers=auth("hs_not-a-real-token")).status_code == 401


def test_viewer_cannot_see_points(client, tokens):
    response = client.get("/api/v1/incidents", headers=auth(tokens["viewer"]))
    assert response.status_code == 403
    assert "analyst" in response.json()["error"]["message"]


def test_analyst_and_above_see_points(client, tokens):
    for role in ("analyst", "gis", "admin"):
        assert client.get("/api/v1/incidents", headers=auth(tokens[role])).status_code == 200


def test_tokens_are_stored_hashed(store, tokens):
    stored = store.session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert len(stored) == 4
    for token in tokens.values():
        assert token not in stored
        assert all(token not in h for h in stored)


def test_revoked_token_is_refused(client, store, tokens):
    store.session.execute(text("UPDATE api_tokens SET revoked_at = now()"))
    store.session.commit()
    assert client.get("/api/v1/incidents", headers=auth(tokens["admin"])).status_code == 401


def test_every_route_declares_its_role(app):
    """Every /api route declares bearer security in the OpenAPI schema (its role check)."""
    unprotected = []
    schema = app.openapi()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if not operation.get("security"):
                unprotected.append(f"{method.upper()} {path}")
    assert not unprotected, unprotected


def test_remembered_tokens_are_forgotten_when_revoked_through_the_api(app, client, store, tokens):
    from app.ratelimit import PrincipalCache

    app.state.principals = PrincipalCache(60)
    viewer, admin = auth(tokens["viewer"]), auth(tokens["admin"])
    assert client.get("/api/v1/communities", headers=viewer).status_code == 200
    store.session.execute(text("UPDATE api_tokens t SET revoked_at = now() FROM users u "
                         "WHERE u.id = t.user_id AND u.name = 'test-viewer'"))
    store.session.commit()
    # remembered for up to auth_cache_s in a process that did not see the revocation...
    assert client.get("/api/v1/communities", headers=viewer).status_code == 200
    user_id = next(u["id"] for u in client.get("/api/v1/users", headers=admin).json()["users"]
                   if u["name"] == "test-viewer")
    client.post(f"/api/v1/users/{user_id}/tokens/revoke", headers=admin)
    # ...but this process forgets at once when a token is revoked through it
    assert client.get("/api/v1/communities", headers=viewer).status_code == 401


def test_a_lookup_that_raced_a_revocation_is_not_remembered():
    from app.ratelimit import PrincipalCache

    cache = PrincipalCache(60)
    generation = cache.generation  # read before the database lookup
    cache.clear()                  # a revocation lands meanwhile
    cache.put("hash", "old principal", generation)
    assert cache.get("hash") is None
    cache.put("hash", "fresh principal", cache.generation)
    assert cache.get("hash") == "fresh principal"


def test_blank_community_names_do_not_lift_a_partner_limit(client, tokens):
    admin = auth(tokens["admin"])
    response = client.post("/api/v1/users", headers=admin,
                           json={"name": "blank-partner", "role": "partner", "communities": [" "]})
    assert response.status_code == 400 and "blank" in response.json()["error"]["message"]
