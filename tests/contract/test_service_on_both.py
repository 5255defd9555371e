"""What users see, over HTTP, on both backends: upload, import, analyse, read, map, tiles, sign-in.

The same requests against the same app, once on PostGIS and once on the
embedded SQLite store; the privacy rules hold on both (a viewer sees the
shared run only, with small counts suppressed).
"""

from __future__ import annotations

import math
import shutil
import subprocess

import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.services.accounts import create_user_with_token
from spatial.synthetic import write_synthetic_csv
from tests.conftest import auth
from tests.contract.conftest import SAMPLE_BOUNDARIES, StoreUnderTest

BASSETERRE = (-62.7261, 17.2955)


@pytest.fixture
def tokens(store: StoreUnderTest) -> dict[str, str]:
    return {role: create_user_with_token(store, f"both-{role}", role) for role in ("viewer", "analyst", "gis")}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def test_a_planner_goes_from_files_to_a_map(client: TestClient, tokens, tmp_path):
    gis, analyst, viewer = (auth(tokens[r]) for r in ("gis", "analyst", "viewer"))
    with SAMPLE_BOUNDARIES.open("rb") as handle:
        uploaded = client.post("/api/v1/boundary-sets", headers=gis,
                               files={"file": ("parishes.geojson", handle)}, data={"activate": "true"})
    assert uploaded.status_code == 201, uploaded.text
    path = write_synthetic_csv(tmp_path / "incidents.csv", 2500, 9)
    with path.open("rb") as handle:
        imported = client.post("/api/v1/incidents/imports", headers=analyst,
                               files={"file": ("incidents.csv", handle)}, data={"source": "SYNTHETIC-test"})
    assert imported.status_code == 201 and imported.json()["inserted"] == 2500, imported.text
    with path.open("rb") as handle:  # the same file again: all duplicates, nothing added
        again = client.post("/api/v1/incidents/imports", headers=analyst,
                            files={"file": ("incidents.csv", handle)}, data={"source": "SYNTHETIC-test"})
    assert again.json()["inserted"] == 0 and again.json()["duplicates"] == 2500

    police = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 9, "permutations": 99, "seed": 4})
    shared = client.post("/api/v1/analyses", headers=analyst,
                         json={"resolution": 8, "permutations": 99, "seed": 4, "audience": "shared"})
    assert police.status_code == shared.status_code == 202
    police_run = client.get(police.json()["url"], headers=analyst).json()
    shared_id = shared.json()["id"]
    assert police_run["status"] == "completed", police_run

    cells = client.get(f"/api/v1/analyses/{police_run['id']}/cells", headers=analyst, params={"limit": 500})
    assert cells.status_code == 200 and cells.json()["features"]
    ranking = client.get(f"/api/v1/analyses/{police_run['id']}/neighbourhoods", headers=analyst)
    assert ranking.status_code == 200
    page = client.get(f"/maps/analyses/{police_run['id']}", headers=analyst)
    assert page.status_code == 200 and "leaflet" in page.text.lower()
    # Generated incidents are labelled wherever a run shows: its record, its map, the home page.
    assert police_run["provenance"]["synthetic"] is True and "SYNTHETIC incidents" in page.text
    assert "SYNTHETIC" in client.get("/", headers=analyst).text
    x, y = tile_of(*BASSETERRE, 13)
    tile = client.get(f"/tiles/hotspots/13/{x}/{y}.mvt", headers=analyst, params={"run": police_run["id"]})
    assert tile.status_code == 200
    assert mapbox_vector_tile.decode(tile.content)["hotspots"]["features"]
    tilejson = client.get("/tiles/hotspots.json", headers=analyst, params={"run": police_run["id"]})
    assert tilejson.status_code == 200 and "SYNTHETIC" in tilejson.json()["name"]
    communities = client.get("/api/v1/communities", headers=analyst).json()
    assert len(communities["communities"] if isinstance(communities, dict) else communities) == 14

    # A viewer: the police run does not exist for them; the shared one shows aggregates with small counts hidden.
    assert client.get(f"/api/v1/analyses/{police_run['id']}", headers=viewer).status_code == 404
    shared_cells = client.get(f"/api/v1/analyses/{shared_id}/cells", headers=viewer, params={"limit": 500})
    assert shared_cells.status_code == 200
    for feature in shared_cells.json()["features"]:
        count = feature["properties"].get("incidents")
        assert count is None or count >= 5
    viewer_tile = client.get(f"/tiles/hotspots/13/{x}/{y}.mvt", headers=viewer, params={"run": shared_id})
    if viewer_tile.status_code == 200:
        for feature in mapbox_vector_tile.decode(viewer_tile.content)["hotspots"]["features"]:
            assert feature["properties"].get("incidents", 5) >= 5
    assert client.get("/api/v1/incidents", headers=viewer).status_code == 403

    # OGC API – Features on both stores: a box and a class filtered in SQL, counted for numberMatched.
    every = {f["id"]: f for f in client.get(f"/api/v1/analyses/{police_run['id']}/cells", headers=analyst,
                                            params={"limit": 10_000}).json()["features"]}
    box = (-62.74, 17.29, -62.72, 17.31)
    boxed = client.get(f"/ogc/collections/run-{police_run['id']}/items", headers=analyst,
                       params={"bbox": ",".join(map(str, box)), "gi_bin": 0, "limit": 10_000}).json()
    inside = [i for i, f in every.items() if f["properties"]["gi_bin"] == 0
              and shapely.geometry.shape(f["geometry"]).intersects(shapely.box(*box))]
    assert [f["id"] for f in boxed["features"]] == inside
    assert boxed["numberMatched"] == len(inside) > 0
    viewer_ogc = client.get(f"/ogc/collections/run-{shared_id}/items", headers=viewer, params={"limit": 10_000})
    assert viewer_ogc.json()["numberMatched"] == len(shared_cells.json()["features"])


def test_sign_in_cookie_opens_the_pages(client: TestClient, tokens):
    response = client.post("/sign-in", data={"token": tokens["viewer"], "next": "/"},
                           headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert response.status_code == 303
    home = client.get("/")
    assert home.status_code == 200 and "sign-in" not in str(home.url)
    assert client.get("/readyz").json()["status"] == "ready"


def test_bad_files_get_a_clear_4xx_and_change_nothing(client: TestClient, tokens, store: StoreUnderTest):
    analyst, gis = auth(tokens["analyst"]), auth(tokens["gis"])
    broken = client.post("/api/v1/boundary-sets", headers=gis,
                         files={"file": ("parishes.geojson", b'{"type": "FeatureCollection", "features": [')})
    assert 400 <= broken.status_code < 500 and broken.json()["error"]["message"]
    rubbish = client.post("/api/v1/incidents/imports", headers=analyst,
                          files={"file": ("incidents.csv", b"a,b\n1,2\n")}, data={"source": "X"})
    assert 400 <= rubbish.status_code < 500 and "latitude" in rubbish.text.lower()
    assert store.session.execute(text("SELECT count(*) FROM boundary_sets")).scalar_one() == 0
    assert store.session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 0


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
def test_gdal_reads_the_tiles_of_both_stores(client: TestClient, tokens, store: StoreUnderTest, tmp_path):
    """QGIS and other GDAL clients read the tiles, whether PostGIS or Python (on SQLite) encoded them."""
    gis, analyst = auth(tokens["gis"]), auth(tokens["analyst"])
    with SAMPLE_BOUNDARIES.open("rb") as handle:
        assert client.post("/api/v1/boundary-sets", headers=gis, files={"file": ("parishes.geojson", handle)},
                           data={"activate": "true"}).status_code == 201
    path = write_synthetic_csv(tmp_path / "incidents.csv", 1500, 5)
    with path.open("rb") as handle:
        client.post("/api/v1/incidents/imports", headers=analyst, files={"file": ("incidents.csv", handle)})
    run = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 9, "permutations": 0}).json()
    x, y = tile_of(*BASSETERRE, 13)
    for layer, params in (("hotspots", {"run": run["id"]}), ("communities", {})):
        response = client.get(f"/tiles/{layer}/13/{x}/{y}.mvt", headers=analyst, params=params)
        expected = len(mapbox_vector_tile.decode(response.content)[layer]["features"])
        tile = tmp_path / f"{layer}.pbf"
        tile.write_bytes(response.content)
        out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo", "Z=13",
                              str(tile)], capture_output=True, text=True, check=True).stdout
        assert f"Layer name: {layer}" in out and f"Feature Count: {expected}" in out and expected > 0
