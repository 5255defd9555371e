"""OGC API – Features under /ogc: the documents, paging, bbox, each audience's collections and content,
and GDAL's OAPIF driver reading the real service (as QGIS does)."""

from __future__ import annotations

import os
import shutil
import subprocess

from datetime import datetime

import h3
import pyogrio
import pytest
import shapely
from bs4 import BeautifulSoup

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
    # titled as the map is: what it measured and the run's number
    assert police_run["title"] == f"Hot spots of volume, run {world['shared']}: cells (H3 resolution 8)"
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
    named = _get(client, analyst, "/ogc/collections/communities/items", name=world["scope"]).json()
    assert [f["properties"]["name"] for f in named["features"]] == [world["scope"]] and named["numberMatched"] == 1
    code = named["features"][0]["properties"]["code"]
    assert code is None or _get(client, analyst, "/ogc/collections/communities/items", code=code).json()[
        "numberMatched"] == 1
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


def _all(client, token, url):
    """Every feature of a listing, following next links."""
    features, next_url = [], url
    while next_url:
        response = client.get(next_url, headers=auth(token))  # (params={} would drop the URL's own query)
        assert response.status_code == 200, response.text
        body = response.json()
        features += body["features"]
        next_url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features


def test_filters_datetime_number_matched_extents_and_queryables(client, world):  # noqa: F811 (the fixture imported above)
    analyst, partner = world["tokens"]["analyst"], world["tokens"]["partner"]
    url = f"/ogc/collections/run-{world['police']}/items"
    every = _get(client, analyst, url, limit=10_000).json()
    assert every["numberMatched"] == every["numberReturned"] == len(every["features"])
    hot = _get(client, analyst, url, gi_bin=3, limit=5).json()
    expected_hot = [f["id"] for f in every["features"] if f["properties"]["gi_bin"] == 3]
    assert expected_hot and hot["numberMatched"] == len(expected_hot)
    assert [f["id"] for f in _all(client, analyst, f"{url}?gi_bin=3&limit=5")] == expected_hot
    community = every["features"][0]["properties"]["community_id"]
    one = _get(client, analyst, url, community_id=community, gi_bin=0, limit=10_000).json()
    assert one["numberMatched"] == sum(1 for f in every["features"] if f["properties"]["community_id"] == community
                                       and f["properties"]["gi_bin"] == 0) == one["numberReturned"] > 0
    boxed = _get(client, analyst, url, bbox="-62.74,17.29,-62.72,17.31", limit=3).json()
    box = shapely.box(-62.74, 17.29, -62.72, 17.31)
    assert boxed["numberMatched"] == sum(shapely.geometry.shape(f["geometry"]).intersects(box)
                                         for f in every["features"]) and boxed["numberReturned"] == 3
    # the run's period is open (all dates), so any datetime overlaps it
    assert _get(client, analyst, url, datetime="2001-01-01", limit=1).json()["numberMatched"] == len(every["features"])
    for wrong, status, said in [({"gibin": "3"}, 400, "queryables are: community_id, gi_bin"),
                                ({"gi_bin": "hot"}, 400, "whole number"), ({"datetime": "last week"}, 400, "RFC 3339"),
                                ({"bbox-crs": "EPSG:3857"}, 400, "CRS84")]:
        response = client.get(url, headers=auth(analyst), params=wrong)
        assert response.status_code == status and said in response.json()["error"]["message"], (wrong, response.text)

    # incidents: datetime on the time each occurred, numberMatched, category filter
    points = _all(client, analyst, "/ogc/collections/incidents/items?limit=5000")
    times = sorted(datetime.fromisoformat(f["properties"]["occurred_at"]) for f in points)
    middle = times[len(times) // 2]
    early = _get(client, analyst, "/ogc/collections/incidents/items", datetime=f"../{middle.isoformat()}",
                 limit=10).json()
    assert early["numberMatched"] == sum(t <= middle for t in times) and early["numberReturned"] == 10
    late = _get(client, analyst, "/ogc/collections/incidents/items", datetime=f"{middle.isoformat()}/..",
                limit=10).json()
    assert late["numberMatched"] == sum(t >= middle for t in times)
    category = points[0]["properties"]["category"]
    assert _get(client, analyst, "/ogc/collections/incidents/items", category=category, limit=1).json()[
        "numberMatched"] == sum(f["properties"]["category"] == category for f in points)

    # extents and queryables
    collection = _get(client, analyst, f"/ogc/collections/run-{world['police']}").json()
    west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
    every_box = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in every["features"]]).bounds
    assert abs(west - every_box[0]) < 1e-5 and abs(north - every_box[3]) < 1e-5
    incidents = _get(client, analyst, "/ogc/collections/incidents").json()
    first, last = incidents["extent"]["temporal"]["interval"][0]
    assert datetime.fromisoformat(first) == times[0] and datetime.fromisoformat(last) == times[-1]
    schema = _get(client, analyst, f"/ogc/collections/run-{world['police']}/queryables")
    assert schema.headers["content-type"] == "application/schema+json"
    assert {"gi_bin", "community_id"} <= set(schema.json()["properties"])
    assert client.get("/ogc/collections/incidents/queryables", headers=auth(partner)).status_code == 403

    # a partner: its community only, in the counts and the extent too
    shared = f"/ogc/collections/run-{world['shared']}/items"
    mine = _get(client, partner, shared, limit=10_000).json()
    assert mine["numberMatched"] == len(mine["features"]) and {f["properties"]["community"]
                                                               for f in mine["features"]} == {world["scope"]}
    police_view = _get(client, analyst, shared, limit=10_000).json()
    assert police_view["numberMatched"] > mine["numberMatched"]
    partner_box = _get(client, partner, f"/ogc/collections/run-{world['shared']}").json()["extent"]["spatial"]["bbox"][0]
    police_box = _get(client, analyst, f"/ogc/collections/run-{world['shared']}").json()["extent"]["spatial"]["bbox"][0]
    assert partner_box != police_box


def test_html_by_content_negotiation(client, world, settings):  # noqa: F811 (the fixture imported above)
    from app.templating import page_headers

    analyst, partner = world["tokens"]["analyst"], world["tokens"]["partner"]
    browser = {**auth(analyst), "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    landing = client.get("/ogc", headers=browser)
    assert landing.headers["content-type"].startswith("text/html")
    assert landing.headers["content-security-policy"] == page_headers(settings)["Content-Security-Policy"]
    assert client.get("/ogc", headers={**auth(analyst), "Accept": "*/*"}).headers["content-type"] == "application/json"
    assert client.get("/ogc?f=json", headers=browser).headers["content-type"] == "application/json"
    assert client.get("/ogc?f=xml", headers=browser).status_code == 400
    stranger = client.get("/ogc/collections?f=html", follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/sign-in")
    assert client.get("/ogc/collections").status_code == 401
    for path in ("/ogc/conformance", "/ogc/collections", f"/ogc/collections/run-{world['police']}",
                 f"/ogc/collections/run-{world['police']}/queryables"):
        page = client.get(path, headers=auth(analyst), params={"f": "html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
    listed = BeautifulSoup(client.get("/ogc/collections?f=html", headers=auth(analyst)).text, "html.parser")
    assert f"run-{world['police']}" in [a.text for a in listed.select("table.collections a")]

    soup = BeautifulSoup(client.get(f"/ogc/collections/run-{world['police']}/items",
                                    params={"f": "html", "limit": 25}, headers=auth(analyst)).text, "html.parser")
    rows = soup.select("table.features tbody tr")
    header = [th.text for th in soup.select("table.features thead th")]
    assert len(rows) == 25 and "gi_bin" in header and "gi_z" in header
    assert soup.select_one('script[src="/static/vendor/leaflet/leaflet.js"]') is not None
    assert not [s for s in soup.find_all(["script", "link"]) if (s.get("src") or s.get("href") or "/").startswith("http")]
    following = soup.select_one('a[rel="next"]')["href"]
    assert "f=html" in following and "cursor=" in following
    second = BeautifulSoup(client.get(following, headers=auth(analyst)).text, "html.parser")
    assert rows[0].td.text not in [r.td.text for r in second.select("table.features tbody tr")]

    # a partner's page holds what its JSON holds: no statistic, hidden counts empty
    page = client.get(f"/ogc/collections/run-{world['shared']}/items?f=html&limit=10000", headers=auth(partner)).text
    assert "gi_z" not in page and "gi_p" not in page and world["scope"] in page
    assert client.get("/ogc/collections/incidents/items?f=html", headers=auth(partner)).status_code == 403


def _shared_run_and_partner(url: str) -> dict:
    """A shared resolution-8 run and a partner limited to the parish with the most cells (service functions)."""
    from app.db import make_engine, make_sessionmaker
    from app.services import analyses
    from app.services.accounts import create_user_with_token
    from app.settings import Settings
    from app.store.backends import backend_for

    settings = Settings(database_url=url, statement_timeout_ms=0)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            store = backend_for(engine).bind(session)
            run_id = analyses.submit(store, analyses.AnalysisRequest(resolution=8, permutations=99, seed=3,
                                                                       audience="shared"),
                                     settings=settings, user_id=None)
            analyses.execute(store, run_id)
            scope = "Saint George Basseterre"
            token = create_user_with_token(store, "ogc-partner", "partner", communities=[scope])
            store.session.commit()
            return {"shared_run_id": run_id, "partner_token": token, "scope": scope}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.browser_support import backend_database, live_service, load_kna_run

    folder = tmp_path_factory.mktemp("ogc")
    with backend_database("postgis", f"hotspots_ogc_{os.getpid()}", folder) as url:
        loaded = load_kna_run(url, incidents=3000)
        loaded.update(_shared_run_and_partner(url))
        with live_service(url, folder / "static") as origin:
            yield origin, loaded


def _gdal_reads_as(token: str, folder):
    # The service keeps GDAL offline for the files it reads (spatial/file_guard.py); the client here
    # is GDAL too, so it is let out, to the loopback service only, for this test.
    # (GDAL's OAPIF driver sets its own Accept header, which replaces GDAL_HTTP_HEADERS; a header file adds to it.)
    headers = folder / f"headers-{abs(hash(token))}.txt"
    headers.write_text(f"Authorization: Bearer {token}\n")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(headers), "GDAL_HTTP_PROXY": None,
                                     "GDAL_HTTPS_PROXY": None, "GDAL_HTTP_TIMEOUT": "60"})
    return headers


def test_gdal_reads_the_service_as_qgis_does(live, tmp_path):
    origin, loaded = live
    dataset = f"OAPIF:{origin}/ogc"
    try:
        headers = _gdal_reads_as(loaded["token"], tmp_path)
        layers = [name for name, _ in pyogrio.list_layers(dataset)]
        run_layer = f"run-{loaded['run_id']}"
        assert layers[:2] == ["communities", "incidents"] and run_layer in layers
        communities = pyogrio.read_dataframe(dataset, layer="communities")
        assert len(communities) == 14 and communities.crs.to_epsg() == 4326
        cells = pyogrio.read_dataframe(dataset, layer=run_layer)
        assert len(cells) == loaded["cells"] and {"cell", "incidents", "gi_bin"} <= set(cells.columns)
        info = pyogrio.read_info(dataset, layer=run_layer)
        assert info["features"] == loaded["cells"]  # numberMatched, or a count GDAL made by paging
        bbox = (-62.74, 17.29, -62.72, 17.31)
        clipped = pyogrio.read_dataframe(dataset, layer=run_layer, bbox=bbox)
        expected = cells[cells.geometry.intersects(shapely.box(*bbox))]
        assert 0 < len(clipped) < len(cells) and set(clipped["cell"]) == set(expected["cell"])
        hot = pyogrio.read_dataframe(dataset, layer=run_layer, where="gi_bin = 3")
        assert len(hot) == int((cells["gi_bin"] == 3).sum())
        # a collection copied to a GeoPackage (what ogr2ogr does), and the file read back
        copy = tmp_path / "cells.gpkg"
        pyogrio.write_dataframe(cells, copy, layer=run_layer, driver="GPKG")
        back = pyogrio.read_info(copy, layer=run_layer)
        assert back["features"] == loaded["cells"] and back["crs"] == "EPSG:4326"
        assert {"cell", "incidents", "gi_bin", "gi_z"} <= set(back["fields"])
        if shutil.which("ogr2ogr"):  # Debian's gdal-bin, where installed: the command GIS staff type
            by_command = tmp_path / "by-ogr2ogr.gpkg"
            subprocess.run(["ogr2ogr", "-f", "GPKG", str(by_command), dataset, run_layer, "-spat", *map(str, bbox)],
                           check=True, capture_output=True, timeout=120,
                           env={**os.environ, "GDAL_HTTP_HEADER_FILE": str(headers)})
            assert pyogrio.read_info(by_command, layer=run_layer)["features"] == len(expected)

        # a partner: its parish in communities, the shared run only, no incidents layer
        _gdal_reads_as(loaded["partner_token"], tmp_path)
        shared_layer = f"run-{loaded['shared_run_id']}"
        assert [name for name, _ in pyogrio.list_layers(dataset)] == ["communities", shared_layer]
        mine = pyogrio.read_dataframe(dataset, layer="communities")
        assert list(mine["name"]) == [loaded["scope"]]
        shared = pyogrio.read_dataframe(dataset, layer=shared_layer)
        assert len(shared) and set(shared["community"]) == {loaded["scope"]} and "gi_z" not in shared.columns
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None, **GDAL_OFFLINE_OPTIONS})


def test_owslib_reads_the_service(live):
    from owslib.ogcapi.features import Features

    origin, loaded = live
    service = Features(f"{origin}/ogc", headers={"Authorization": f"Bearer {loaded['token']}"})
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in service.conformance()["conformsTo"]
    run_layer = f"run-{loaded['run_id']}"
    assert run_layer in [c["id"] for c in service.collections()["collections"]]
    page = service.collection_items(run_layer, limit=50)
    assert page["numberReturned"] == 50 and page["numberMatched"] == loaded["cells"]
    boxed = service.collection_items(run_layer, bbox=[-62.74, 17.29, -62.72, 17.31], limit=10_000)
    assert 0 < boxed["numberReturned"] == boxed["numberMatched"] < loaded["cells"]
    assert {"gi_bin", "community_id"} <= set(service.collection_queryables(run_layer)["properties"])
    hot = service.collection_items(run_layer, gi_bin=3, limit=10_000)
    assert hot["numberMatched"] == hot["numberReturned"] and all(
        f["properties"]["gi_bin"] == 3 for f in hot["features"])
    partner = Features(f"{origin}/ogc", headers={"Authorization": f"Bearer {loaded['partner_token']}"})
    assert [c["id"] for c in partner.collections()["collections"]] == ["communities", f"run-{loaded['shared_run_id']}"]
    with pytest.raises(RuntimeError, match="analysts and above"):
        partner.collection_items("incidents")


def test_odd_digits_repeated_parameters_and_cache_headers(client, world):  # noqa: F811 (the fixture imported above)
    """A Unicode digit in a cursor or id is a 404 (it was a 500), a parameter given twice a 400, and no OGC
    answer may be kept by a cache (incident points) or served to another caller or for another Accept."""
    analyst = world["tokens"]["analyst"]
    run = f"/ogc/collections/run-{world['police']}"
    for path in ("/ogc/collections/incidents/items?cursor=²", "/ogc/collections/communities/items?cursor=²",
                 "/ogc/collections/incidents/items/²", "/ogc/collections/incidents/items/٣",
                 f"/ogc/collections/run-{str(world['police']).translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))}"):
        response = client.get(path, headers=auth(analyst))
        assert response.status_code == 404, (path, response.text)
    assert "cursor" in client.get("/ogc/collections/incidents/items?cursor=²", headers=auth(analyst)).json()[
        "error"]["message"]
    twice = client.get(f"{run}/items?gi_bin=3&gi_bin=-3", headers=auth(analyst))
    assert twice.status_code == 400 and "gi_bin appeared more than once" in twice.json()["error"]["message"]
    assert client.get("/ogc?f=json&f=html", headers=auth(analyst)).status_code == 400
    assert client.get(f"{run}/items?limit=1&limit=10000", headers=auth(analyst)).status_code == 400

    one_incident = _get(client, analyst, "/ogc/collections/incidents/items", limit=1).json()["features"][0]["id"]
    for path, params in [("/ogc", {}), ("/ogc/collections", {}), (run, {}), (f"{run}/queryables", {}),
                         (f"{run}/items", {"limit": 1}), ("/ogc/collections/incidents/items", {"limit": 1}),
                         (f"/ogc/collections/incidents/items/{one_incident}", {}),
                         ("/ogc/collections/incidents/items", {"limit": 1, "f": "html"})]:
        response = _get(client, analyst, path, **params)
        assert response.headers["cache-control"] == "private, no-store", path
        assert {v.strip() for v in response.headers["vary"].split(",")} >= {"Accept", "Authorization", "Cookie"}, path
