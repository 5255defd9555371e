"""The hotspot tile fast path (app/api/tile_fast_path.py) answers exactly as the sync route does.

A committed database of the module's own (the fast path's async pool cannot
see a test's uncommitted transaction), holding the KNA parishes, incidents
and two resolution-8 runs (police and shared). Two apps over it: one with
the fast path, one without. Every request is sent to both and the status,
headers (less the date and request id) and bytes compared, for police, a
viewer (token and browser session), a scoped partner and the public. That
the fast path did the work is proved by breaking the fast app's sync session
factory after a warm-up request: a request that reached the route would fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app import web_sessions
from app.db_async import AsyncPool
from app.main import create_app
from app.security import hash_token
from app.services import tiles as tile_service
from app.services.accounts import create_user_with_token
from app.settings import Settings
from app.store import tiles_async
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _import_points, _random_background, _run
from tests.test_tiles import decode, tiles_covering

CAYON = "Saint Mary Cayon"
KNA_BOUNDS = (-62.87, 17.09, -62.53, 17.42)
IGNORED_HEADERS = {"date", "x-request-id", "server"}


@pytest.fixture(scope="module")
def world(committed_database, tmp_path_factory) -> dict:
    settings = _settings(committed_database)
    engine = create_engine(committed_database)
    tmp_path = tmp_path_factory.mktemp("fast-tiles")
    with Session(engine) as session:
        tokens = {role: create_user_with_token(session, f"fast-{role}", role)
                  for role in ("viewer", "analyst", "gis")}
        tokens["partner"] = create_user_with_token(session, "fast-partner", "partner", communities=[CAYON])
        session.commit()
        setup = create_app(settings, start_worker=False, fast_tiles=False)
        with TestClient(setup) as client:
            _activate_parishes(client, tokens["gis"])
            rng = np.random.default_rng(21)
            _random_background(session, tmp_path, seed=22, n=500)
            _import_points(session, tmp_path, BASSETERRE[0] + rng.normal(0, 0.003, 200),
                           BASSETERRE[1] + rng.normal(0, 0.003, 200), "cluster")
            police = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1)
            shared = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, audience="shared")
        assert police["status"] == shared["status"] == "completed"
        viewer_token_id = session.execute(text("SELECT id FROM api_tokens WHERE token_hash = :h"),
                                          {"h": hash_token(tokens["viewer"])}).scalar_one()
    engine.dispose()
    return {"url": committed_database, "tokens": tokens, "police": police["id"], "shared": shared["id"],
            "viewer_cookie": web_sessions.issue(viewer_token_id, settings)}


def _settings(url: str, **changes) -> Settings:
    return Settings(environment="test", database_url=url, statement_timeout_ms=0, analysis_worker="inline",
                    auth_cache_s=300, public_access=True, **changes)


@pytest.fixture(autouse=True)
def shared_facts_outlive_the_test(monkeypatch):
    """These tests break the sync route once the caches are warm; on a busy machine their loops outlast
    the 10 s a shared run's facts are remembered (tested on its own in tests/test_tiles.py), and the
    fast path then rightly passes through. Remembered for the length of a test here."""
    monkeypatch.setattr(tile_service, "SHARED_FACTS_TTL_S", 3600.0)


@pytest.fixture
def clients(world) -> Iterator[tuple[TestClient, TestClient]]:
    """(sync, fast): the same service with and without the fast path; tiles drawn every time."""
    settings = _settings(world["url"], tile_cache_mb=0)
    with TestClient(create_app(settings, start_worker=False, fast_tiles=False)) as sync, \
            TestClient(create_app(settings, start_worker=False, fast_tiles=True)) as fast:
        yield sync, fast


def _callers(world) -> dict[str, dict]:
    tokens = world["tokens"]
    return {"analyst": {"headers": auth(tokens["analyst"])}, "viewer": {"headers": auth(tokens["viewer"])},
            "partner": {"headers": auth(tokens["partner"])}, "public": {},
            "viewer-cookie": {"cookies": {web_sessions.COOKIE_NAME: world["viewer_cookie"]}}}


def _get(client: TestClient, path: str, caller: dict, headers: dict | None = None):
    client.cookies.clear()
    for name, value in caller.get("cookies", {}).items():
        client.cookies.set(name, value)
    return client.get(path, headers={**caller.get("headers", {}), **(headers or {})})


def _same(sync_response, fast_response, what: str) -> None:
    def shown(response):
        return {k: v for k, v in response.headers.items() if k not in IGNORED_HEADERS}

    assert fast_response.status_code == sync_response.status_code, what
    assert shown(fast_response) == shown(sync_response), what
    assert fast_response.content == sync_response.content, what
    assert fast_response.headers["x-request-id"]


def _break_sync_sessions(client: TestClient) -> None:
    def refuse():
        raise AssertionError("the sync route was used")

    client.app.state.sessionmaker = refuse


def _tile_paths(run_id: int) -> list[str]:
    return [f"/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"
            for z in (7, 9, 11, 12) for x, y in tiles_covering(KNA_BOUNDS, z)]


def test_every_audience_gets_the_same_tiles_and_headers_from_the_fast_path(world, clients):
    sync, fast = clients
    for name, caller in _callers(world).items():
        for run in ("shared", "police") if name in ("analyst",) else ("shared",):
            paths = _tile_paths(world[run])
            # The first request passes through (it checks the token and loads the run), filling the caches.
            _same(_get(sync, paths[0], caller), _get(fast, paths[0], caller), f"{name} warm-up")
    _break_sync_sessions(fast)
    statuses = set()
    for name, caller in _callers(world).items():
        for run in ("shared", "police") if name == "analyst" else ("shared",):
            for path in _tile_paths(world[run]):
                sync_response, fast_response = _get(sync, path, caller), _get(fast, path, caller)
                _same(sync_response, fast_response, f"{name} {path}")
                statuses.add(sync_response.status_code)
                if name != "analyst" and fast_response.status_code == 200:  # classes and protected counts only
                    properties = [f["properties"] for f in decode(fast_response.content)["hotspots"]["features"]]
                    assert not {k for p in properties for k in p} & {"gi_z", "gi_p_fdr"}, path
                if sync_response.status_code in (200, 204):
                    etag = {"If-None-Match": sync_response.headers["etag"]}
                    _same(_get(sync, path, caller, etag), _get(fast, path, caller, etag), f"{name} {path} 304")
    assert statuses == {200, 204}


def test_requests_the_fast_path_cannot_decide_pass_through_unchanged(world, clients):
    sync, fast = clients
    tokens, shared, police = world["tokens"], world["shared"], world["police"]
    viewer, analyst = auth(tokens["viewer"]), auth(tokens["analyst"])
    cases = [
        (f"/tiles/hotspots/9/168/229.mvt?run={police}", {"headers": viewer}),  # a police run: 404
        (f"/tiles/hotspots/9/168/229.mvt?run={shared}", {"headers": auth("hs_not-a-token")}),  # 401
        (f"/tiles/hotspots/9/168/229.mvt?run={shared}", {"cookies": {web_sessions.COOKIE_NAME: "forged.x"}}),
        ("/tiles/hotspots/9/168/229.mvt", {"headers": analyst}),  # no run: 400
        ("/tiles/hotspots/9/168/229.mvt?run=abc", {"headers": analyst}),  # 422
        (f"/tiles/hotspots/9/168/229.mvt?run={shared}&run={police}", {"headers": viewer}),
        (f"/tiles/hotspots/99/1/1.mvt?run={shared}", {"headers": analyst}),  # bad zoom: 400
        (f"/tiles/hotspots/9/x/229.mvt?run={shared}", {"headers": analyst}),
        (f"/tiles/hotspots/9/168/229.mvt?run={shared + police + 1000}", {"headers": analyst}),  # 404
    ]
    for path, caller in cases * 2:  # twice: the first answers may fill caches
        _same(_get(sync, path, caller), _get(fast, path, caller), path)


def test_a_too_dense_partner_tile_is_the_same_413(world, clients, monkeypatch):
    sync, fast = clients
    partner = {"headers": auth(world["tokens"]["partner"])}
    paths = _tile_paths(world["shared"])
    _get(fast, paths[0], partner)  # warm the caches through the route
    _break_sync_sessions(fast)
    monkeypatch.setattr(tile_service, "FEATURE_CAP", 2)
    seen = set()
    for path in paths:
        sync_response, fast_response = _get(sync, path, partner), _get(fast, path, partner)
        _same(sync_response, fast_response, path)
        seen.add(sync_response.status_code)
    assert 413 in seen


def test_restricted_audiences_draw_as_the_restricted_role_and_the_pool_gets_it_back(world, clients, monkeypatch):
    _, fast = clients
    roles = []
    draw = tiles_async._tile

    async def recording(conn, *args, **kwargs):
        cursor = await conn.execute("SELECT current_user")
        roles.append((await cursor.fetchone())[0])
        return await draw(conn, *args, **kwargs)

    monkeypatch.setattr(tiles_async, "_tile", recording)
    path = f"/tiles/hotspots/12/1333/1832.mvt?run={world['shared']}"
    callers = _callers(world)
    for name in ("viewer", "partner", "public", "analyst", "viewer", "analyst"):
        _get(fast, path, callers[name])  # warm-up may pass through (nothing recorded)
        roles.clear()
        response = _get(fast, path, callers[name])
        assert response.status_code in (200, 204)
        expected = "postgres" if name == "analyst" else "hotspots_restricted"
        assert roles and set(roles) == {expected}, (name, roles)


def test_finished_run_tiles_come_from_memory_without_the_database(world):
    settings = _settings(world["url"])
    caller = {"headers": auth(world["tokens"]["viewer"])}
    paths = _tile_paths(world["shared"])[:10]
    with TestClient(create_app(settings, start_worker=False, fast_tiles=False)) as sync, \
            TestClient(create_app(settings, start_worker=False, fast_tiles=True)) as fast:
        first = [_get(fast, path, caller) for path in paths]
        _break_sync_sessions(fast)
        fast.app.state.tile_pool = AsyncPool("postgresql://postgres@127.0.0.1:9/nowhere", 1, None)
        for path, before in zip(paths, first):
            again = _get(fast, path, caller)
            _same(before, again, path)
            _same(_get(sync, path, caller), again, path)


def test_database_down_is_a_503_with_retry_after(world, clients):
    _, fast = clients
    caller = {"headers": auth(world["tokens"]["analyst"])}
    path = f"/tiles/hotspots/12/1333/1832.mvt?run={world['shared']}"
    assert _get(fast, path, caller).status_code in (200, 204)
    _break_sync_sessions(fast)
    fast.app.state.tile_pool = AsyncPool("postgresql://postgres@127.0.0.1:9/nowhere", 1, None)
    response = _get(fast, path, caller, {"X-Request-ID": "outage-1"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Request-ID"] == "outage-1"
    body = response.json()["error"]
    assert "database" in body["message"] and body["request_id"] == "outage-1"
    assert "psycopg" not in response.text and "127.0.0.1" not in response.text


def test_fast_path_is_only_for_postgresql_and_an_own_engine(world, connection):
    sqlite = create_app(Settings(environment="test", database_url="sqlite:///:memory:"), start_worker=False,
                        fast_tiles=True)
    shared_connection = create_app(_settings(world["url"]), engine=connection.engine, start_worker=False)
    own = create_app(_settings(world["url"]), start_worker=False)

    def has_fast_path(app) -> bool:
        return any(m.cls.__name__ == "HotspotTileFastPath" for m in app.user_middleware)

    assert not has_fast_path(sqlite) and not has_fast_path(shared_connection) and has_fast_path(own)
