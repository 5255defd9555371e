"""Privacy tiers in the map outputs: tiles, the map page and the browser pages, decoded and parsed.

The world: the KNA parishes, a random background of thefts over St Kitts,
150 more thefts and 120 'Domestic violence' incidents planted in Basseterre (a sensitive
category), and 3 thefts in Saint Paul Charlestown (a community under k = 5).
Two runs at resolution 8 (permutations 0, seed 1): one for police, one shared.
Viewers and partners must never get a point, a count under k, the sensitive
category or its count, a run they may not see, or (partners) another community.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.services import tiles as tile_service
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _import_points, _partner, _random_background, _run
from tests.test_maps import geojson_variables, make_client, parse  # noqa: F401  (make_client: a fixture)
from tests.test_tiles import decode, tile_of, tiles_covering

K = 5  # the default privacy_min_count
SENSITIVE = "Domestic violence"
CHARLESTOWN = (17.1444, -62.5981)
CAYON = "Saint Mary Cayon"
KNA_BOUNDS = (-62.87, 17.09, -62.53, 17.42)


@pytest.fixture
def world(client, tokens, store, tmp_path) -> dict:
    _activate_parishes(client, tokens["gis"])
    rng = np.random.default_rng(11)
    _random_background(store, tmp_path, seed=12, n=500)
    _import_points(store, tmp_path, BASSETERRE[0] + rng.normal(0, 0.002, 120),
                   BASSETERRE[1] + rng.normal(0, 0.002, 120), "dv", category=SENSITIVE)
    _import_points(store, tmp_path, BASSETERRE[0] + rng.normal(0, 0.004, 150),
                   BASSETERRE[1] + rng.normal(0, 0.004, 150), "thefts")
    _import_points(store, tmp_path, [CHARLESTOWN[0]] * 3, [CHARLESTOWN[1]] * 3, "few")
    police = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1)
    shared = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, audience="shared")
    assert police["status"] == shared["status"] == "completed"
    ids = dict(store.session.execute(text(
        "SELECT c.name, c.id FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active"
    )).all())
    without_sensitive = dict(store.session.execute(text(
        "SELECT community_id, count(*) FROM incidents WHERE category IS DISTINCT FROM :c GROUP BY 1"),
        {"c": SENSITIVE}).all())
    everything = dict(store.session.execute(text("SELECT community_id, count(*) FROM incidents GROUP BY 1")).all())
    # what viewers may see of a community: its (category, local month) groups of k or more, summed
    published = dict(store.session.execute(text(
        "SELECT community_id, sum(n) FROM (SELECT community_id, category, count(*) AS n FROM incidents "
        "WHERE category IS DISTINCT FROM :c GROUP BY 1, 2, date_trunc('month', occurred_at AT TIME ZONE "
        "'America/St_Kitts') HAVING count(*) >= :k) atoms GROUP BY 1"), {"c": SENSITIVE, "k": K}).all())
    return {"police": police["id"], "shared": shared["id"], "ids": ids,
            "without_sensitive": without_sensitive, "everything": everything, "published": published,
            "partner": _partner(store, "cayon-partner", [CAYON])}


def _safe_count(value) -> bool:
    return value is None or value >= K


def _hotspot_features(client, token, run_id: int, z: int, bounds=KNA_BOUNDS) -> list[dict]:
    features = []
    for x, y in tiles_covering(bounds, z):
        response = client.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"run": run_id}, headers=auth(token))
        assert response.status_code in (200, 204), response.text
        if response.status_code == 200:
            features += decode(response.content)["hotspots"]["features"]
    return features


def _communities_features(client, token, z: int = 9) -> list[dict]:
    features = {}
    for x, y in tiles_covering(KNA_BOUNDS, z):
        response = client.get(f"/tiles/communities/{z}/{x}/{y}.mvt", headers=auth(token))
        assert response.status_code in (200, 204), response.text
        if response.status_code == 200:
            for feature in decode(response.content)["communities"]["features"]:
                features[feature["properties"]["id"]] = feature
    return list(features.values())


# --- tiles ---------------------------------------------------------------------------------------

def test_viewer_hotspot_tiles_hide_small_counts_at_every_zoom(client, tokens, world):
    viewer = tokens["viewer"]
    x, y = tile_of(*BASSETERRE, 12)
    assert client.get(f"/tiles/hotspots/12/{x}/{y}.mvt", params={"run": world["police"]},
                      headers=auth(viewer)).status_code == 404
    assert client.get("/tiles/hotspots.json", params={"run": world["police"]}, headers=auth(viewer)).status_code == 404
    suppressed = 0
    for z in (8, 10, 12):  # parents at resolution 6 and 7, then the run's own cells
        features = _hotspot_features(client, viewer, world["shared"], z)
        assert features, f"z{z}"
        for feature in features:
            props = feature["properties"]
            assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
            assert _safe_count(props.get("incidents")), (z, props)
            assert ("incidents" in props) != bool(props.get("suppressed")), props
            assert SENSITIVE not in json.dumps(props)
            suppressed += "incidents" not in props
            if z < 12:  # parents publish the sum of their children shown, nothing else
                assert set(props) <= {"cell", "resolution", "incidents", "suppressed", "cells", "gi_bin",
                                      "hot_cells", "cold_cells"}, props
            else:
                assert not set(props) & {"gi_z", "gi_p_fdr", "gi_p", "lisa_i"}, props
    assert suppressed > 0, "some small counts should have been left out"


def test_restricted_tiles_are_cached_and_tagged_apart_from_police_tiles(client, tokens, world):
    x, y = tile_of(*CHARLESTOWN, 12)
    url = f"/tiles/hotspots/12/{x}/{y}.mvt?run={world['shared']}"
    police = client.get(url, headers=auth(tokens["analyst"]))  # drawn first: in the LRU now
    viewer = client.get(url, headers=auth(tokens["viewer"]))
    assert police.status_code == viewer.status_code == 200
    assert police.content != viewer.content and police.headers["etag"] != viewer.headers["etag"]
    assert {f["properties"]["incidents"] for f in decode(police.content)["hotspots"]["features"]} & {1, 2, 3, 4}
    assert all(_safe_count(f["properties"].get("incidents")) for f in decode(viewer.content)["hotspots"]["features"])
    # A police ETag does not get a viewer a 304, and the other way round.
    again = client.get(url, headers={**auth(tokens["viewer"]), "If-None-Match": police.headers["etag"]})
    assert again.status_code == 200 and again.content == viewer.content
    same = client.get(url, headers={**auth(tokens["viewer"]), "If-None-Match": viewer.headers["etag"]})
    assert same.status_code == 304
    assert viewer.headers["cache-control"].startswith("private") and "immutable" not in viewer.headers["cache-control"]
    assert "Authorization" in viewer.headers["vary"] and "Cookie" in viewer.headers["vary"]


def test_viewer_communities_tile_has_safe_counts_without_the_sensitive_category(client, tokens, world):
    features = _communities_features(client, tokens["viewer"])
    assert len(features) == len(world["ids"])
    charlestown = world["ids"]["Saint Paul Charlestown"]
    for feature in features:
        props = feature["properties"]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        expected = world["published"].get(props["id"], 0)
        if expected:
            assert props["incidents"] == expected, props
        else:
            assert "incidents" not in props and props["suppressed"] is True, props
    assert "incidents" not in next(f["properties"] for f in features if f["properties"]["id"] == charlestown)
    # Police get the exact figures, sensitive category included.
    police = {f["properties"]["id"]: f["properties"]["incidents"]
              for f in _communities_features(client, tokens["analyst"])}
    assert police == {i: world["everything"].get(i, 0) for i in world["ids"].values()}
    sensitive = {i: world["everything"].get(i, 0) - world["without_sensitive"].get(i, 0) for i in world["ids"].values()}
    assert all(police[i] - world["without_sensitive"].get(i, 0) == n for i, n in sensitive.items())
    assert sum(sensitive.values()) > 60  # most of the 120 fell inside communities (Basseterre is on the coast)


def test_partner_tiles_show_only_its_communities_as_native_cells(client, world, monkeypatch):
    partner = world["partner"]
    for z in (8, 10, 12):
        features = _hotspot_features(client, partner, world["shared"], z)
        assert features, f"z{z}"
        assert {f["properties"]["community"] for f in features} == {CAYON}, f"z{z}"
        assert {f["properties"]["resolution"] for f in features} == {8}, f"z{z}"
        assert all(_safe_count(f["properties"].get("incidents")) for f in features)
    communities = _communities_features(client, partner)
    assert [f["properties"]["name"] for f in communities] == [CAYON]
    tilejson = client.get("/tiles/hotspots.json", params={"run": world["shared"]}, headers=auth(partner)).json()
    west, south, east, north = tilejson["bounds"]
    assert south > 17.3, "the partner's bounds are those of its own community (north of Basseterre)"
    # Too many of its cells in one tile: a clear request to zoom in, never a cut tile.
    monkeypatch.setattr(tile_service, "FEATURE_CAP", 3)
    x, y = tile_of(17.3563, -62.7385, 9)  # a zoom not drawn above, so not in the tile cache
    response = client.get(f"/tiles/hotspots/9/{x}/{y}.mvt", params={"run": world["shared"]}, headers=auth(partner))
    assert response.status_code == 413 and "zoom in" in response.json()["error"]["message"]


def test_incidents_layer_stays_closed_below_analyst(client, tokens, world):
    x, y = tile_of(*BASSETERRE, 15)
    for token in (tokens["viewer"], world["partner"]):
        assert client.get(f"/tiles/incidents/15/{x}/{y}.mvt", headers=auth(token)).status_code == 403


# --- the map page --------------------------------------------------------------------------------

@pytest.fixture
def map_client(make_client):
    return make_client()


def test_viewer_map_has_only_safe_aggregates_and_its_own_saved_file(map_client, tokens, world, tmp_path):
    viewer = auth(tokens["viewer"])
    assert map_client.get(f"/maps/analyses/{world['police']}", headers=viewer).status_code == 404
    response = map_client.get(f"/maps/analyses/{world['shared']}", headers=viewer)
    assert response.status_code == 200
    html = response.text
    cells, outlines = geojson_variables(html)
    assert {f["geometry"]["type"] for f in cells["features"]} == {"Polygon"}
    counts = [f["properties"]["incidents"] for f in cells["features"]]
    assert all(_safe_count(c) for c in counts) and None in counts
    assert all(f["properties"]["suppressed"] == (f["properties"]["incidents"] is None) for f in cells["features"])
    assert '"fewer than 5"' in html and "count(p)" in html  # the tooltip says so
    assert SENSITIVE not in html and SENSITIVE.lower() not in html

    police = map_client.get(f"/maps/analyses/{world['shared']}", headers=auth(tokens["analyst"])).text
    police_counts = [f["properties"]["incidents"] for f in geojson_variables(police)[0]["features"]]
    assert any(0 < c < K for c in police_counts)
    saved = sorted((tmp_path / "static" / "maps").glob(f"run-{world['shared']}-*.html"))
    assert len(saved) == 2 and {p.read_text() for p in saved} == {html, police}
    # The viewer still gets its own page after police opened theirs.
    assert map_client.get(f"/maps/analyses/{world['shared']}", headers=viewer).text == html


def test_partner_map_draws_only_its_community(map_client, world):
    partner = auth(world["partner"])
    assert map_client.get(f"/maps/analyses/{world['police']}", headers=partner).status_code == 404
    html = map_client.get(f"/maps/analyses/{world['shared']}", headers=partner).text
    cells, outlines = geojson_variables(html)
    assert cells["features"] and {f["properties"]["community"] for f in cells["features"]} == {CAYON}
    assert [f["properties"]["community"] for f in outlines["features"]] == [CAYON]
    assert all(_safe_count(f["properties"]["incidents"]) for f in cells["features"])
    assert "Saint George Basseterre" not in html


# --- pages ---------------------------------------------------------------------------------------

COUNT_CELL = re.compile(r'class="(?:num )?incidents">([^<]*)<')


def _shown_counts(html: str) -> list[str]:
    return [value.split(" (")[0].strip() for value in COUNT_CELL.findall(html)]


def _is_safe_text(value: str) -> bool:
    return value == f"fewer than {K}" or int(value.replace(",", "")) >= K


def test_viewer_home_lists_safe_counts_and_visible_runs_only(map_client, tokens, world):
    html = map_client.get("/", headers=auth(tokens["viewer"])).text
    links = parse(html).links
    assert f"/maps/analyses/{world['shared']}" in links and f"/maps/analyses/{world['police']}" not in links
    shown = _shown_counts(html)
    assert len(shown) == len(world["ids"]) and all(_is_safe_text(v) for v in shown)
    assert f"fewer than {K}" in shown  # Saint Paul Charlestown
    basseterre = world["ids"]["Saint George Basseterre"]
    assert f"{world['without_sensitive'][basseterre]:,}" in shown
    assert f"{world['everything'][basseterre]:,}" not in shown
    assert SENSITIVE not in html and SENSITIVE.lower() not in html


def test_viewer_community_page_has_a_safe_trend_and_the_shared_run_place(map_client, tokens, world):
    viewer = auth(tokens["viewer"])
    html = map_client.get(f"/communities/{world['ids']['Saint George Basseterre']}", headers=viewer).text
    months = re.findall(r"<title>(\d{4}-\d{2}): ([\d,]+) incidents</title>", html)
    assert months and all(int(n.replace(",", "")) >= K for _, n in months)
    assert all(_is_safe_text(v) for v in _shown_counts(html))
    assert f"/maps/analyses/{world['shared']}" in parse(html).links
    assert f"/maps/analyses/{world['police']}" not in parse(html).links
    assert SENSITIVE not in html and SENSITIVE.lower() not in html
    small = map_client.get(f"/communities/{world['ids']['Saint Paul Charlestown']}", headers=viewer).text
    assert f"fewer than {K}" in small and "<rect" not in small


def test_partner_pages_stop_at_its_scope(map_client, world):
    partner = auth(world["partner"])
    home = map_client.get("/", headers=partner).text
    assert [link for link in parse(home).links if link.startswith("/communities/")] == [
        f"/communities/{world['ids'][CAYON]}"]
    assert map_client.get(f"/communities/{world['ids'][CAYON]}", headers=partner).status_code == 200
    for name, community_id in world["ids"].items():
        if name != CAYON:
            assert map_client.get(f"/communities/{community_id}", headers=partner).status_code == 404, name


def test_police_pages_keep_exact_counts(map_client, tokens, world):
    html = map_client.get("/", headers=auth(tokens["analyst"])).text
    shown = _shown_counts(html)
    basseterre = world["ids"]["Saint George Basseterre"]
    assert f"{world['everything'][basseterre]:,}" in shown and "3" in shown  # Charlestown's 3 thefts
    assert f"/maps/analyses/{world['police']}" in parse(html).links


# --- the database wall ---------------------------------------------------------------------------

def test_restricted_role_reads_published_parents_but_never_incidents(store):
    store.database.restrict()
    try:
        with pytest.raises(ProgrammingError, match="permission denied"):
            with store.session.begin_nested():
                store.session.execute(text("SELECT 1 FROM incidents LIMIT 1"))
        store.session.execute(text("SELECT incidents FROM published_cell_parents LIMIT 1")).all()
        for column in ("incidents", "published_incidents"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with store.session.begin_nested():
                    store.session.execute(text(f"SELECT {column} FROM hotspot_cell_parents LIMIT 1"))
        assert not store.session.execute(text(
            "SELECT has_table_privilege('hotspots_restricted', 'hotspot_cell_parents', 'INSERT')")).scalar_one()
    finally:
        store.session.rollback()
        store.database.unrestrict()


def test_the_run_list_shows_only_runs_the_audience_may_open(client, tokens, store, world):
    viewer = auth(tokens["viewer"])
    listed = {r["id"] for r in client.get("/api/v1/analyses", headers=viewer).json()["runs"]}
    assert world["shared"] in listed and world["police"] not in listed
    # A shared run counted before categories were classed (weaker rules): opening it is refused, so is listing it.
    store.session.execute(text("UPDATE hotspot_runs SET parameters = parameters - 'sensitive_categories' "
                               "WHERE id = :id"), {"id": world["shared"]})
    assert client.get(f"/api/v1/analyses/{world['shared']}", headers=viewer).status_code == 404
    listed = {r["id"] for r in client.get("/api/v1/analyses", headers=viewer).json()["runs"]}
    assert world["shared"] not in listed
    assert world["shared"] in {r["id"] for r in client.get("/api/v1/analyses", headers=auth(tokens["analyst"])).json()["runs"]}
