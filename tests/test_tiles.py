"""Vector tiles and TileJSON against a real PostGIS, asserting on decoded tiles.

Two runs: a real analysis (resolution 9, no permutations) on the St Kitts
and Nevis parishes, and a synthetic dense run (every resolution-10 cell of
the parishes, inserted directly) for the size and never-truncated checks.
"""

from __future__ import annotations

import math
import shutil
import subprocess

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from app.services import tiles as tile_service
from app.store import hotspots as run_store
from app.store import tiles as tile_store
from spatial.grid import cell_boundaries, cover_communities, h3_parent_bits
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _import_points, _random_background, _run

MVT = "application/vnd.mapbox-vector-tile"
PARISH_NAMES_SAMPLE = {"Saint George Basseterre", "Saint Peter Basseterre"}


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tiles_covering(bounds, z: int):
    west, south, east, north = bounds
    x0, y0 = tile_of(north, west, z)
    x1, y1 = tile_of(south, east, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content)


@pytest.fixture
def parishes(client, tokens):
    _activate_parishes(client, tokens["gis"])


@pytest.fixture
def real_run(client, tokens, session, tmp_path, parishes) -> int:
    rng = np.random.default_rng(1)
    _random_background(session, tmp_path, seed=2)
    _import_points(session, tmp_path, BASSETERRE[0] + rng.normal(0, 0.0015, 200),
                   BASSETERRE[1] + rng.normal(0, 0.0015, 200), "cluster")
    run = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=3)
    assert run["status"] == "completed", run
    return run["id"]


@pytest.fixture
def dense_run(session, parishes) -> dict:
    """Every resolution-10 cell of the parishes, with made-up incidents and Gi_Bin classes."""
    set_id = run_store.active_boundary_set_id(session)
    shapes = run_store.community_shapes(session, set_id, None)
    grid = cover_communities(shapely.from_wkb([s["wkb"] for s in shapes]), [s["id"] for s in shapes], 10)
    run_id = run_store.create_run(session, parameters={"synthetic": True}, seed=1, boundary_set_id=set_id,
                                  user_id=None)
    rng = np.random.default_rng(7)
    incidents = rng.poisson(0.7, len(grid))
    gi_bin = rng.integers(-3, 4, len(grid))
    session.execute(
        text(
            "INSERT INTO hotspot_cells (run_id, cell, community_id, incidents, gi_z, gi_p_fdr, gi_bin, "
            "lisa_quadrant, lisa_label, geom) SELECT :run_id, u.cell, u.community, u.incidents, u.gi_bin * 1.1, "
            "0.01, u.gi_bin, 0, 'not significant', ST_GeomFromWKB(u.wkb, 4326) FROM unnest(CAST(:cells AS bigint[]), "
            "CAST(:community AS bigint[]), CAST(:incidents AS integer[]), CAST(:gi_bin AS smallint[]), "
            "CAST(:wkb AS bytea[])) AS u(cell, community, incidents, gi_bin, wkb)"
        ),
        {"run_id": run_id, "cells": grid.cells.tolist(), "community": grid.community.tolist(),
         "incidents": incidents.tolist(), "gi_bin": gi_bin.tolist(),
         "wkb": list(shapely.to_wkb(np.asarray(cell_boundaries(grid.cells), dtype=object)))},
    )
    run_store.claim_run(session, run_id)
    run_store.complete_run(session, run_id, {"synthetic": True})
    session.commit()
    return {"id": run_id, "cells": len(grid), "incidents": int(incidents.sum())}


def test_zoom_to_resolution_rule():
    assert [tile_service.resolution_for_zoom(z) for z in (0, 8, 10, 12, 14, 15, 22)] == [0, 6, 7, 9, 10, 11, 15]
    assert tile_service.zoom_for_resolution(10) == 14
    assert tile_service.zoom_for_resolution(9) == 12


def test_parents_keep_the_strongest_class_and_sum_incidents():
    import h3

    children = [h3.str_to_int(c) for c in h3.cell_to_children(h3.latlng_to_cell(*BASSETERRE, 8), 10)]
    cells = np.array(children[:4], dtype=np.int64)
    parents, n, incidents, gi_bin, hot, cold, published = tile_store.aggregate_to_parents(
        cells, np.array([1, 2, 3, 4]), np.array([0, -3, 2, 3]), 8, min_count=3)
    assert len(parents) == 1 and n[0] == 4 and incidents[0] == 10
    assert published[0] == 7  # only the children shown below analyst (3 and 4) are summed
    assert gi_bin[0] == 3 and hot[0] == 2 and cold[0] == 1  # +3 beats -3 on a tie
    _, _, _, gi_bin, _, _, _ = tile_store.aggregate_to_parents(cells[:3], np.array([1, 1, 1]), np.array([0, -3, 2]),
                                                               8, min_count=3)
    assert gi_bin[0] == -3


def test_hotspot_tile_has_cells_and_attributes(client, tokens, real_run):
    x, y = tile_of(*BASSETERRE, 13)
    response = client.get(f"/tiles/hotspots/13/{x}/{y}.mvt", params={"run": real_run}, headers=auth(tokens["analyst"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    features = decode(response.content)["hotspots"]["features"]
    assert len(features) > 20
    props = features[0]["properties"]
    assert {"cell", "incidents", "gi_bin", "gi_z", "gi_p_fdr", "lisa_label", "community"} <= set(props)
    assert all(f["properties"]["resolution"] == 9 for f in features)
    assert any(f["properties"]["gi_bin"] == 3 for f in features), "the planted cluster should show as 99 % hot"
    assert {f["properties"]["community"] for f in features} & PARISH_NAMES_SAMPLE
    assert features[0]["geometry"]["type"] == "Polygon"


def test_low_zoom_hotspot_tile_draws_parents(client, tokens, real_run):
    x, y = tile_of(*BASSETERRE, 10)
    response = client.get(f"/tiles/hotspots/10/{x}/{y}.mvt", params={"run": real_run}, headers=auth(tokens["analyst"]))
    features = decode(response.content)["hotspots"]["features"]
    assert features and all(f["properties"]["resolution"] == 7 for f in features)
    assert {"cells", "incidents", "gi_bin", "hot_cells", "cold_cells"} <= set(features[0]["properties"])
    assert "community" not in features[0]["properties"]


def test_empty_tile_is_204(client, tokens, real_run):
    response = client.get("/tiles/hotspots/14/0/0.mvt", params={"run": real_run}, headers=auth(tokens["analyst"]))
    assert response.status_code == 204 and response.content == b""
    assert "etag" in response.headers


@pytest.mark.parametrize("address, fragment", [
    ("23/0/0", "between 0 and 22"), ("-1/0/0", "between 0 and 22"), ("3/8/0", "between 0 and 7"),
    ("3/0/-1", "between 0 and 7"), ("a/0/0", "whole numbers"), ("3/1.5/0", "whole numbers"),
])
def test_bad_tile_addresses_are_400(client, tokens, real_run, address, fragment):
    response = client.get(f"/tiles/hotspots/{address}.mvt", params={"run": real_run}, headers=auth(tokens["analyst"]))
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_layer_and_run_errors(client, tokens, session, real_run):
    analyst = auth(tokens["analyst"])
    unknown = client.get("/tiles/parcels/1/0/0.mvt", headers=analyst)
    assert unknown.status_code == 404 and "hotspots" in unknown.json()["error"]["message"]
    assert client.get("/tiles/parcels.json", headers=analyst).status_code == 404
    missing = client.get("/tiles/hotspots/1/0/0.mvt", headers=analyst)
    assert missing.status_code == 400 and "run" in missing.json()["error"]["message"]
    assert client.get("/tiles/hotspots/1/0/0.mvt", params={"run": 999999}, headers=analyst).status_code == 404
    set_id = run_store.active_boundary_set_id(session)
    queued = run_store.create_run(session, parameters={}, seed=1, boundary_set_id=set_id, user_id=None)
    session.commit()
    response = client.get("/tiles/hotspots/1/0/0.mvt", params={"run": queued}, headers=analyst)
    assert response.status_code == 409 and "queued" in response.json()["error"]["message"]
    assert client.get("/tiles/hotspots/1/0/0.mvt", params={"run": real_run}).status_code == 401


def test_incidents_layer_is_for_analysts(client, tokens, real_run, session):
    x, y = tile_of(*BASSETERRE, 12)
    url = f"/tiles/incidents/12/{x}/{y}.mvt"
    assert client.get(url, headers=auth(tokens["viewer"])).status_code == 403
    assert client.get("/tiles/incidents.json", headers=auth(tokens["viewer"])).status_code == 403
    response = client.get(url, headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    features = decode(response.content)["incidents"]["features"]
    assert all(f["geometry"]["type"] == "Point" and f["properties"]["resolution"] == 9 for f in features)
    in_tile = session.execute(text(
        "SELECT count(*) FROM incidents WHERE geom && ST_Transform(ST_TileEnvelope(12, :x, :y), 4326)"),
        {"x": x, "y": y}).scalar_one()
    assert sum(f["properties"]["incidents"] for f in features) == in_tile > 200

    x, y = tile_of(*BASSETERRE, 17)
    points = decode(client.get(f"/tiles/incidents/17/{x}/{y}.mvt", headers=auth(tokens["analyst"])).content)
    props = points["incidents"]["features"][0]["properties"]
    assert {"id", "category", "occurred_at", "source"} <= set(props) and "incidents" not in props


def test_communities_layer(client, tokens, real_run):
    x, y = tile_of(*BASSETERRE, 9)
    response = client.get(f"/tiles/communities/9/{x}/{y}.mvt", headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=60"
    features = decode(response.content)["communities"]["features"]
    assert PARISH_NAMES_SAMPLE <= {f["properties"]["name"] for f in features}
    listed = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"]
    expected = {c["id"]: c["incidents"] for c in listed}
    assert all(f["properties"]["incidents"] == expected[f["properties"]["id"]] for f in features)
    assert sum(f["properties"]["incidents"] for f in features) > 200


def test_etag_and_304(client, tokens, real_run):
    analyst = auth(tokens["analyst"])
    x, y = tile_of(*BASSETERRE, 13)
    url = f"/tiles/hotspots/13/{x}/{y}.mvt?run={real_run}"
    first = client.get(url, headers=analyst)
    etag = first.headers["etag"]
    again = client.get(url, headers={**analyst, "If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={**analyst, "If-None-Match": '"other"'}).status_code == 200

    communities = "/tiles/communities/9/{}/{}.mvt".format(*tile_of(*BASSETERRE, 9))
    tag = client.get(communities, headers=analyst).headers["etag"]
    assert client.get(communities, headers={**analyst, "If-None-Match": tag}).status_code == 304


def test_finished_run_tiles_are_served_from_memory(client, tokens, real_run, monkeypatch):
    x, y = tile_of(*BASSETERRE, 13)
    url = f"/tiles/hotspots/13/{x}/{y}.mvt?run={real_run}"
    first = client.get(url, headers=auth(tokens["analyst"]))

    def no_database(*args, **kwargs):
        raise AssertionError("a cached tile went to the database")

    monkeypatch.setattr(tile_store, "hotspot_cells_tile", no_database)
    monkeypatch.setattr(tile_store, "run_extent", no_database)
    second = client.get(url, headers=auth(tokens["analyst"]))
    assert second.status_code == 200 and second.content == first.content


def _all_features(client, token, run_id: int, z: int, bounds) -> tuple[dict, int]:
    """Every distinct feature (by cell) over the tiles covering ``bounds`` at ``z``, and the largest tile."""
    seen, largest = {}, 0
    for x, y in tiles_covering(bounds, z):
        response = client.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"run": run_id}, headers=auth(token))
        assert response.status_code in (200, 204), response.text
        largest = max(largest, len(response.content))
        if response.status_code == 200:
            for feature in decode(response.content)["hotspots"]["features"]:
                seen[feature["properties"]["cell"]] = feature["properties"]
    return seen, largest


def test_dense_run_tiles_stay_small_and_complete(client, tokens, session, dense_run):
    bounds = tile_store.run_extent(session, dense_run["id"])
    for z in (8, 10, 12, 14):
        seen, largest = _all_features(client, tokens["analyst"], dense_run["id"], z, bounds)
        assert largest < 500 * 1024, f"z{z}: a {largest}-byte tile"
        # Nothing was dropped: the distinct features add up to the whole run.
        assert sum(p["incidents"] for p in seen.values()) == dense_run["incidents"], f"z{z}"
        if z == 14:
            assert len(seen) == dense_run["cells"]
        else:
            assert sum(p["cells"] for p in seen.values()) == dense_run["cells"], f"z{z}"


def test_over_the_cap_a_tile_is_drawn_coarser_not_cut(client, tokens, session, dense_run, monkeypatch):
    """With a cap of 40 features, every cell of the run inside a tile is still drawn (by a parent).

    "Inside" means the cell's centre is well inside the tile: H3 children poke
    slightly out of their parent's hexagon, and such a parent is drawn in the
    tile its hexagon reaches, not in the one its child pokes into.
    """
    monkeypatch.setattr(tile_service, "FEATURE_CAP", 40)
    bounds = tile_store.run_extent(session, dense_run["id"])
    coarser = 0
    for x, y in tiles_covering(bounds, 14):
        response = client.get(f"/tiles/hotspots/14/{x}/{y}.mvt", params={"run": dense_run["id"]},
                              headers=auth(tokens["analyst"]))
        inside = np.array(session.execute(text(
            "SELECT cell FROM hotspot_cells WHERE run_id = :id AND ST_Intersects(ST_Centroid(geom), "
            "ST_Transform(ST_TileEnvelope(14, :x, :y, margin => -0.05), 4326))"
        ), {"id": dense_run["id"], "x": x, "y": y}).scalars().all(), dtype=np.int64)
        if response.status_code == 204:
            assert len(inside) == 0, f"tile 14/{x}/{y} is empty but has cells"
            continue
        features = decode(response.content)["hotspots"]["features"]
        assert len(features) <= 40
        (resolution,) = {f["properties"]["resolution"] for f in features}
        coarser += resolution < 10
        drawn = {int(f["properties"]["cell"], 16) for f in features}
        assert set(h3_parent_bits(inside, resolution).tolist()) <= drawn, f"tile 14/{x}/{y} lost cells"
    assert coarser > 10


def test_tilejson(client, tokens, real_run):
    body = client.get("/tiles/hotspots.json", params={"run": real_run}, headers=auth(tokens["analyst"])).json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == [f"http://testserver/tiles/hotspots/{{z}}/{{x}}/{{y}}.mvt?run={real_run}"]
    west, south, east, north = body["bounds"]
    assert -62.9 < west < east < -62.5 and 17.0 < south < north < 17.5
    assert body["minzoom"] == 0 and body["maxzoom"] == 12
    layer = body["vector_layers"][0]
    assert layer["id"] == "hotspots" and {"gi_bin", "incidents", "gi_z", "lisa_label"} <= set(layer["fields"])
    communities = client.get("/tiles/communities.json", headers=auth(tokens["analyst"])).json()
    assert communities["vector_layers"][0]["fields"]["name"] and communities["bounds"][0] < -62.5
    incidents = client.get("/tiles/incidents.json", headers=auth(tokens["analyst"])).json()
    assert incidents["tiles"][0].endswith("/tiles/incidents/{z}/{x}/{y}.mvt")
    assert client.get("/tiles/hotspots.json", headers=auth(tokens["analyst"])).status_code == 400


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
def test_gdal_reads_a_tile(client, tokens, real_run, tmp_path):
    x, y = tile_of(*BASSETERRE, 13)
    response = client.get(f"/tiles/hotspots/13/{x}/{y}.mvt", params={"run": real_run}, headers=auth(tokens["analyst"]))
    expected = len(decode(response.content)["hotspots"]["features"])
    path = tmp_path / "tile.pbf"
    path.write_bytes(response.content)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo", "Z=13",
                          str(path)], capture_output=True, text=True, check=True).stdout
    assert "Layer name: hotspots" in out
    assert f"Feature Count: {expected}" in out
    assert "gi_bin" in out and "lisa_label" in out


def test_incidents_in_no_community_have_their_own_tiles(client, tokens, session, tmp_path):
    """Analysts can see where the incidents that no community counts lie (?outside=true)."""
    import math

    import mapbox_vector_tile

    from tests.test_analyses_api import _activate_parishes, _import_points

    _activate_parishes(client, tokens["gis"])
    _import_points(session, tmp_path, [17.2955] * 3, [-62.7261] * 3, "inside")  # Basseterre
    _import_points(session, tmp_path, [17.25] * 2, [-62.95] * 2, "at-sea")  # west of St Kitts, in no parish
    tile = "/tiles/incidents/14/{}/{}.mvt"
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    for lat, lon, expected_all, expected_outside in ((17.2955, -62.7261, 3, 0), (17.25, -62.95, 2, 2)):
        n = 2 ** 14
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        for outside, expected in ((False, expected_all), (True, expected_outside)):
            response = client.get(tile.format(x, y), headers=headers, params={"outside": str(outside).lower()})
            if expected == 0:
                assert response.status_code == 204
                continue
            assert response.status_code == 200, response.text
            layer = mapbox_vector_tile.decode(response.content)["incidents"]
            assert sum(f["properties"].get("incidents", 1) for f in layer["features"]) == expected
    assert client.get(tile.format(0, 0) + "?outside=true",
                      headers={"Authorization": f"Bearer {tokens['viewer']}"}).status_code in (403, 404)


def test_shared_run_facts_are_read_again_after_a_few_seconds(monkeypatch):
    """Another process (an admin's command, another replica) may withdraw a shared run from partners:
    its remembered facts expire, so tiles are not served to them from memory for long."""
    from app.services import tiles as tile_service

    cache = tile_service.TileCache(1_000_000)
    from app.runs import Run

    def finished(run_id: int, audience: str) -> tile_service.FinishedRun:
        run = Run.from_row({"id": run_id, "status": "completed", "audience": audience, "parameters": {},
                            "boundary_set_id": 1})
        return tile_service.FinishedRun(run, resolution=8, bounds=(0, 0, 1, 1))

    shared, police = finished(1, "shared"), finished(2, "police")
    cache.remember_run(shared)
    cache.remember_run(police)
    assert cache.run(1) is shared and cache.run(2) is police
    monkeypatch.setattr(tile_service, "SHARED_FACTS_TTL_S", -1.0)
    assert cache.run(1) is None and cache.run(2) is police
