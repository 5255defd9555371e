"""Maps and pages: offline Folium maps, sign-in with a session cookie, CSRF checks, community pages.

HTML is parsed, not compared as bytes. Runs use the KNA parishes, synthetic
incidents (seeded) and permutations=0 or 99 for speed.
"""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import web_sessions
from app.main import create_app
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _import_points, _random_background, _run

ORIGIN = "http://testserver"
URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""", re.IGNORECASE)


class Links(HTMLParser):
    """Every src/href in a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def parse(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def outside_urls(html: str) -> set[str]:
    """Absolute or protocol-relative URLs in the page (this service's pages use only paths)."""
    return {u for u in URL.findall(html) if not u.startswith("//" + "testserver")}


def geojson_variables(html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"var geo_json_data_\w+ = (\{.*?\});\n", html)]


@pytest.fixture
def make_client(settings, session_factory, connection, tmp_path):
    """A client on an app with some settings changed; maps are saved under tmp_path."""
    opened = []

    def make(**overrides) -> TestClient:
        changed = settings.model_copy(update={"static_dir": tmp_path / "static", **overrides})
        app = create_app(changed, engine=connection.engine, start_worker=False)
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        app.state.sessionmaker = session_factory
        app.state.run_worker.sessions = session_factory
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def completed_run(client, tokens, store, tmp_path) -> dict:
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=21, n=300)
    # a cluster spread over a few cells: one cell alone, however busy, is not a cluster to the
    # conditional test (its neighbours are what is tested)
    rng = np.random.default_rng(5)
    _import_points(store, tmp_path, BASSETERRE[0] + rng.normal(0, 0.004, 150),
                   BASSETERRE[1] + rng.normal(0, 0.004, 150), "cluster")
    run = _run(client, tokens["analyst"], resolution=8, permutations=99, seed=3)
    assert run["status"] == "completed", run
    return run


def sign_in(client: TestClient, token: str, next_path: str = "/"):
    return client.post("/sign-in", data={"token": token, "next": next_path}, headers={"Origin": ORIGIN})


# --- the map -------------------------------------------------------------------------------------

def test_map_is_offline_with_legend_layers_and_only_aggregates(make_client, tokens, completed_run, tmp_path):
    client = make_client()
    response = client.get(f"/maps/analyses/{completed_run['id']}", headers=auth(tokens["analyst"]))
    assert response.status_code == 200, response.text
    html = response.text
    page = parse(html)
    assert outside_urls(html) == set()
    assert page.links and all((link.startswith("/") and not link.startswith("//")) or link == "data:,"
                              for link in page.links)
    assert "/static/vendor/leaflet/leaflet.js" in page.links and "/static/vendor/leaflet/leaflet.css" in page.links
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "SYNTHETIC" not in html  # real feeds carry no demo label
    for label in ("Hot spot 99 % confidence", "Not significant", "Cold spot 99 % confidence",
                  "High-High", "Low-Low", "High-Low", "Low-High"):
        assert label in html
    assert "Clusters and outliers (LISA)" in html and "Community boundaries" in html
    assert "L.control.layers" in html and "fitBounds" in html

    cells, outlines = geojson_variables(html)
    assert len(cells["features"]) == completed_run["provenance"]["cells"]
    assert {f["geometry"]["type"] for f in cells["features"]} == {"Polygon"}  # hexagons, never points
    assert set(cells["features"][0]["properties"]) == {"incidents", "gi_bin", "gi_z", "gi_p_fdr", "lisa_label",
                                                       "community", "smoothed_rate"}
    assert cells["features"][0]["properties"]["smoothed_rate"] is None  # a run of counts has no rates
    assert {f["geometry"]["type"] for f in outlines["features"]} <= {"Polygon", "MultiPolygon"}
    assert 3 in {f["properties"]["gi_bin"] for f in cells["features"]}

    saved = list((tmp_path / "static" / "maps").glob(f"run-{completed_run['id']}-*.html"))
    assert len(saved) == 1 and saved[0].read_text() == html


def test_saved_map_is_served_and_rebuilt_when_missing(make_client, tokens, completed_run, tmp_path):
    client = make_client()
    url = f"/maps/analyses/{completed_run['id']}"
    first = client.get(url, headers=auth(tokens["analyst"]))
    (saved,) = (tmp_path / "static" / "maps").glob("run-*.html")
    stamp = saved.stat().st_mtime_ns
    assert client.get(url, headers=auth(tokens["analyst"])).text == first.text
    assert saved.stat().st_mtime_ns == stamp
    saved.unlink()
    again = client.get(url, headers=auth(tokens["analyst"]))
    assert again.status_code == 200 and saved.is_file()


def test_basemap_setting_is_the_only_outside_url(make_client, tokens, completed_run):
    basemap = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    client = make_client(basemap_url=basemap, basemap_attribution="© Example")
    response = client.get(f"/maps/analyses/{completed_run['id']}", headers=auth(tokens["analyst"]))
    assert outside_urls(response.text) == {basemap}
    assert "https://*.tiles.example.org" in response.headers["Content-Security-Policy"]


def test_large_run_draws_from_vector_tiles(make_client, tokens, completed_run):
    client = make_client(map_inline_max_cells=10)
    response = client.get(f"/maps/analyses/{completed_run['id']}", headers=auth(tokens["analyst"]))
    html = response.text
    assert outside_urls(html) == set()
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in parse(html).links
    assert f"/tiles/hotspots/{{z}}/{{x}}/{{y}}.mvt?run={completed_run['id']}" in html
    assert "L.vectorGrid.protobuf" in html
    assert len(geojson_variables(html)) == 1  # only the community outlines are inlined


def test_map_of_unfinished_or_missing_run(make_client, tokens, store, completed_run):
    client = make_client()
    assert client.get("/maps/analyses/999999", headers=auth(tokens["analyst"])).status_code == 404
    store.session.execute(text("UPDATE hotspot_runs SET status = 'failed' WHERE id = :id"), {"id": completed_run["id"]})
    store.session.commit()
    # A browser is sent to the run's page, which says why there is no map (never JSON).
    answer = client.get(f"/maps/analyses/{completed_run['id']}", headers=auth(tokens["analyst"]))
    assert answer.status_code == 303 and answer.headers["location"] == f"/analyses/{completed_run['id']}"


def test_community_names_are_escaped_in_the_map(make_client, tokens, store, completed_run):
    store.session.execute(text("UPDATE communities SET name = '</script><b>x' WHERE name = 'Saint George Basseterre'"))
    store.session.commit()
    client = make_client()
    html = client.get(f"/maps/analyses/{completed_run['id']}", headers=auth(tokens["analyst"])).text
    assert "</script><b>" not in html and "<\\/script><b>x" in html
    assert "esc(p.community)" in html  # tooltips escape on the way into the DOM


# --- sign-in, cookies, CSRF ----------------------------------------------------------------------

def _place_names(collection: dict) -> set[str]:
    return {f["properties"]["name"] for f in collection["features"]}


def test_only_the_towns_within_the_map_are_named(make_client, tokens, completed_run):
    """The gazetteer's places on a map and its print sheet are those inside the mapped communities' extent."""
    client = make_client()
    everywhere = client.get(f"/print/analyses/{completed_run['id']}", headers=auth(tokens["analyst"])).text
    whole = json.loads(re.search(r'id="print-map-data" type="application/json">(.*?)</script>', everywhere, re.S)
                       .group(1))
    assert {"Basseterre", "Sandy Point Town", "Charlestown", "Newcastle"} <= _place_names(whole["places"])
    one = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=3, communities=["Saint Anne Sandy Point"])
    assert one["status"] == "completed", one["error"]
    answer = client.get(f"/print/analyses/{one['id']}", headers=auth(tokens["analyst"]))
    assert answer.status_code == 200, answer.text
    sheet = answer.text
    data = json.loads(re.search(r'id="print-map-data" type="application/json">(.*?)</script>', sheet, re.S).group(1))
    west, south, east, north = data["bounds"]
    names = _place_names(data["places"])
    assert "Sandy Point Town" in names and not names & {"Basseterre", "Charlestown", "Newcastle"}
    assert all(west <= f["geometry"]["coordinates"][0] <= east and south <= f["geometry"]["coordinates"][1] <= north
               for f in data["places"]["features"])
    page = client.get(f"/maps/analyses/{one['id']}", headers=auth(tokens["analyst"])).text
    assert '"name": "Sandy Point Town"' in page
    assert not any(f'"name": "{town}"' in page for town in ("Basseterre", "Charlestown", "Newcastle"))


def test_pages_redirect_to_sign_in_and_api_answers_401(make_client, completed_run):
    client = make_client()
    for path in ("/", f"/maps/analyses/{completed_run['id']}", "/communities/1"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")
    api = client.get("/api/v1/analyses")
    assert api.status_code == 401 and api.json()["error"]["message"]


def test_sign_in_sets_a_signed_http_only_cookie_not_the_token(make_client, tokens):
    client = make_client()
    response = sign_in(client, tokens["viewer"], "/communities/1?x=1")
    assert response.status_code == 303 and response.headers["location"] == "/communities/1?x=1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{web_sessions.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert tokens["viewer"] not in cookie and tokens["viewer"][3:20] not in cookie
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/communities").status_code == 200  # API routes accept the cookie too


def test_cookie_is_secure_over_https(make_client, tokens):
    client = make_client()
    client.base_url = client.base_url.copy_with(scheme="https")
    response = client.post("/sign-in", data={"token": tokens["viewer"]}, headers={"Origin": "https://testserver"})
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_sign_in_refuses_bad_tokens_other_sites_and_open_redirects(make_client, tokens):
    client = make_client()
    bad = sign_in(client, "hs_not-a-token")
    assert bad.status_code == 401 and "not valid" in bad.text and "set-cookie" not in bad.headers
    assert client.post("/sign-in", data={"token": tokens["viewer"]}).status_code == 403  # no Origin
    assert client.post("/sign-in", data={"token": tokens["viewer"]},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert sign_in(client, tokens["viewer"], target).headers["location"] == "/"


def test_cookie_authenticated_writes_need_same_origin(make_client, tokens, completed_run):
    client = make_client()
    sign_in(client, tokens["analyst"])
    body = {"resolution": 7, "permutations": 0, "seed": 1}
    assert client.post("/api/v1/analyses", json=body).status_code == 403
    assert client.post("/api/v1/analyses", json=body, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/v1/analyses", json=body, headers={"Origin": ORIGIN}).status_code == 202
    # The bearer header needs no Origin: it is not sent by browsers on their own.
    assert client.post("/api/v1/analyses", json=body, headers=auth(tokens["analyst"])).status_code == 202


def test_revoking_the_token_ends_the_browser_session(make_client, tokens, store):
    client = make_client()
    sign_in(client, tokens["viewer"])
    assert client.get("/").status_code == 200
    store.session.execute(text("UPDATE api_tokens SET revoked_at = now()"))
    store.session.commit()
    assert client.get("/").status_code == 303


def test_forged_or_expired_cookies_are_refused(settings, make_client, tokens):
    assert web_sessions.token_id_from(web_sessions.issue(7, settings), settings) == 7
    payload, signature = web_sessions.issue(7, settings).split(".")
    assert web_sessions.token_id_from(f"{payload}.{signature[:-2]}xx", settings) is None
    assert web_sessions.token_id_from("garbage", settings) is None
    old = web_sessions.issue(7, settings, now=time.time() - settings.session_max_age_s - 5)
    assert web_sessions.token_id_from(old, settings) is None
    other = settings.model_copy(update={"secret_key": "another-secret"})
    assert web_sessions.token_id_from(web_sessions.issue(7, other), settings) is None
    client = make_client()
    client.cookies.set(web_sessions.COOKIE_NAME, f"{payload}.{signature[:-2]}xx")
    assert client.get("/").status_code == 303


def test_sign_out_clears_the_cookie_from_our_pages_only(make_client, tokens):
    client = make_client()
    sign_in(client, tokens["viewer"])
    assert client.post("/sign-out", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/").status_code == 200
    response = client.post("/sign-out", headers={"Origin": ORIGIN})
    assert response.status_code == 303 and 'Max-Age=0' in response.headers["set-cookie"]
    assert client.get("/").status_code == 303


# --- pages ---------------------------------------------------------------------------------------

def test_home_lists_communities_and_runs_with_links(make_client, tokens, completed_run):
    client = make_client()
    html = client.get("/", headers=auth(tokens["analyst"])).text
    links = parse(html).links
    assert f"/maps/analyses/{completed_run['id']}" in links
    assert sum(1 for link in links if link.startswith("/communities/")) >= 10  # KNA parishes
    assert "Saint George Basseterre" in html and outside_urls(html) == set()


def test_community_page_shows_trend_and_ranking_place(make_client, tokens, store, completed_run):
    client = make_client()
    community_id = store.session.execute(
        text("SELECT id FROM communities WHERE name = 'Saint George Basseterre'")).scalar_one()
    response = client.get(f"/communities/{community_id}", headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    html = response.text
    assert "<svg" in html and html.count("<rect") == 12  # synthetic incidents span Jan..Dec 2024
    assert "2024-01" in html and "2024-12" in html
    assert re.search(r"<strong>1 of \d+</strong>", html), "the planted cluster puts Basseterre first"
    assert f"/maps/analyses/{completed_run['id']}" in parse(html).links
    assert outside_urls(html) == set()
    assert client.get("/communities/999999", headers=auth(tokens["analyst"])).status_code == 404


def test_vendor_assets_are_served_when_installed(make_client, settings):
    if not (settings.static_dir / "vendor" / "leaflet" / "leaflet.js").is_file():
        pytest.skip("front-end assets not installed: run scripts/ensure-assets.sh")
    client = make_client(static_dir=settings.static_dir)
    response = client.get("/static/vendor/leaflet/leaflet.js")
    assert response.status_code == 200 and "Leaflet" in response.text[:400]
    assert client.get("/static/maps/").status_code == 404  # saved maps only behind sign-in
