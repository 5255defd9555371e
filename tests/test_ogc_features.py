"""OGC API – Features under /ogc: the documents, paging, bbox, each audience's collections and content,
and GDAL's OAPIF driver reading the real service (as QGIS does)."""

from __future__ import annotations

import os

import h3
import pyogrio
import pytest
import shapely

from spatial.file_guard import GDAL_OFFLINE_OPTIONS
from tests.conftest import auth
from tests.test_gis_exports import world  # noqa: F401  (the same seeded runs, tiers and partner)


def _get(client, token, path, **params):
    response = client.get(path, headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    return response


def test_landing_conformance_and_collections_per_audience(client, world):  # noqa: F811 (the fixture imported above)
    analyst, partner = world["tokens"]["analyst"], world["tokens"]["partner"]
    landing = _get(client, analyst, "/ogc").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert rels["conformance"].endswith("/ogc/conformance") and rels["data"].endswith("/ogc/collections")
    assert rels["service-desc"].endswith("/openapi.json")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in _get(
        client, analyst, "/ogc/conformance").json()["conformsTo"]
    police_ids = [c["id"] for c in _get(client, analyst, "/ogc/collections").json()["collections"]]
    assert police_ids[:2] == ["communities", "incidents"]
    assert {f"run-{world['police']}", f"run-{world['shared']}"} <= set(police_ids)
    partner_collections = _get(client, partner, "/ogc/collections").json()["collections"]
    assert [c["id"] for c in partner_collections] == ["communities", f"run-{world['shared']}"]
    # the run's description gives a partner no total (it would bound the hidden cells) and, for a partner
    # limited to some communities, no run-wide cell count
    police_run = next(c for c in _get(client, analyst, "/ogc/collections").json()["collections"]
                      if c["id"] == f"run-{world['shared']}")
    assert " incidents" in police_run["description"]
    described = partner_collections[1]["description"]
    assert "total not published" in described and " incidents" not in described and " cells" not in described
    one = _get(client, partner, f"/ogc/collections/run-{world['shared']}").json()["description"]
    assert one == described
    for collection in ("incidents",):
        assert client.get(f"/ogc/collections/{collection}/items", headers=auth(partner)).status_code == 403
    assert client.get(f"/ogc/collections/run-{world['police']}/items", headers=auth(partner)).status_code == 404
    assert client.get("/ogc/collections/nothing/items", headers=auth(analyst)).status_code == 404
    assert client.get("/ogc/collections/run-x/items", headers=auth(analyst)).status_code == 404


def test_cells_page_by_next_links_with_bbox(client, world):  # noqa: F811 (the fixture imported above)
    token = world["tokens"]["analyst"]
    url = f"/ogc/collections/run-{world['police']}/items"
    every = _get(client, token, f"/api/v1/analyses/{world['police']}/cells", limit=10_000).json()["features"]
    seen, next_url, pages = [], url + "?limit=400", 0
    while next_url:
        page = client.get(next_url, headers=auth(token))
        assert page.headers["content-type"] == "application/geo+json"
        body = page.json()
        assert body["numberReturned"] == len(body["features"]) <= 400
        seen += [f["id"] for f in body["features"]]
        next_url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert seen == [f["id"] for f in every] and pages == -(-len(every) // 400)
    bbox = (-62.74, 17.29, -62.72, 17.31)
    box = shapely.box(*bbox)
    inside = [f["id"] for f in every if shapely.geometry.shape(f["geometry"]).intersects(box)]
    seen, next_url = [], url + "?limit=7&bbox=" + ",".join(map(str, bbox))
    while next_url:
        body = client.get(next_url, headers=auth(token)).json()
        seen += [f["id"] for f in body["features"]]
        next_url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == inside and len(inside) > 7
    one = _get(client, token, f"{url}/{inside[0]}").json()
    assert one["id"] == inside[0] and one["properties"]["gi_bin"] is not None
    assert client.get(f"{url}/{h3.latlng_to_cell(0, 0, 9)}", headers=auth(token)).status_code == 404


def test_partner_cells_hold_no_hidden_count_and_no_statistic(client, world, settings):  # noqa: F811 (the fixture imported above)
    k = max(settings.privacy_min_count, 3)
    body = _get(client, world["tokens"]["partner"], f"/ogc/collections/run-{world['shared']}/items",
                limit=10_000).json()
    properties = [f["properties"] for f in body["features"]]
    assert properties and {p["community"] for p in properties} == {world["scope"]}
    assert not {"gi_z", "gi_p", "gi_p_fdr", "lisa_i"} & set(properties[0])
    shown = [p["incidents"] for p in properties if p["incidents"] is not None]
    assert shown and min(shown) >= k
    assert all(p["suppressed"] == (p["incidents"] is None) for p in properties)
    assert any(p["suppressed"] for p in properties)


def test_communities_and_incidents(client, world, settings):  # noqa: F811 (the fixture imported above)
    analyst, partner = world["tokens"]["analyst"], world["tokens"]["partner"]
    body = _get(client, analyst, "/ogc/collections/communities/items", limit=3).json()
    assert body["numberMatched"] == len(world["communities"]) and body["numberReturned"] == 3
    assert body["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    mine = _get(client, partner, "/ogc/collections/communities/items").json()
    assert [f["properties"]["name"] for f in mine["features"]] == [world["scope"]]
    shown = mine["features"][0]["properties"]["incidents"]
    assert shown is None or shown >= max(settings.privacy_min_count, 3)
    points = _get(client, analyst, "/ogc/collections/incidents/items", limit=50,
                  bbox="-62.75,17.28,-62.71,17.32").json()
    assert points["numberReturned"] == 50 and all(f["geometry"]["type"] == "Point" for f in points["features"])
    assert all(-62.75 <= f["geometry"]["coordinates"][0] <= -62.71 for f in points["features"])
    audit = _get(client, world["tokens"]["admin"], "/api/v1/audit", limit=20).json()["entries"]
    assert any(e["action"] == "incidents.read" and e["target"] == "/ogc/collections/incidents/items" for e in audit)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.browser_support import backend_database, live_service, load_kna_run

    folder = tmp_path_factory.mktemp("ogc")
    with backend_database("postgis", f"hotspots_ogc_{os.getpid()}", folder) as url:
        loaded = load_kna_run(url, incidents=3000)
        with live_service(url, folder / "static") as origin:
            yield origin, loaded


def test_gdal_reads_the_service_as_qgis_does(live, tmp_path):
    origin, loaded = live
    # The service keeps GDAL offline for the files it reads (spatial/file_guard.py); the client here
    # is GDAL too, so it is let out, to the loopback service only, for this test.
    # (GDAL's OAPIF driver sets its own Accept header, which replaces GDAL_HTTP_HEADERS; a header file adds to it.)
    headers = tmp_path / "headers.txt"
    headers.write_text(f"Authorization: Bearer {loaded['token']}\n")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(headers), "GDAL_HTTP_PROXY": None,
                                     "GDAL_HTTPS_PROXY": None, "GDAL_HTTP_TIMEOUT": "60"})
    try:
        dataset = f"OAPIF:{origin}/ogc"
        layers = [name for name, _ in pyogrio.list_layers(dataset)]
        run_layer = f"run-{loaded['run_id']}"
        assert layers[:2] == ["communities", "incidents"] and run_layer in layers
        communities = pyogrio.read_dataframe(dataset, layer="communities")
        assert len(communities) == 14 and communities.crs.to_epsg() == 4326
        cells = pyogrio.read_dataframe(dataset, layer=run_layer)
        assert len(cells) == loaded["cells"] and {"cell", "incidents", "gi_bin"} <= set(cells.columns)
        bbox = (-62.74, 17.29, -62.72, 17.31)
        clipped = pyogrio.read_dataframe(dataset, layer=run_layer, bbox=bbox)
        expected = cells[cells.geometry.intersects(shapely.box(*bbox))]
        assert 0 < len(clipped) < len(cells) and set(clipped["cell"]) == set(expected["cell"])
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None, **GDAL_OFFLINE_OPTIONS})
