"""Emerging hot spot runs over HTTP on both stores: submitted, counted per step, stored, listed, tiled, exported.

A year of synthetic incidents in monthly steps (12 steps, as ArcGIS's minimum of
ten allows); the same requests on PostGIS and on the embedded store. Partners see
patterns and per-step classes of shared runs, never per-step counts or statistics.
"""

from __future__ import annotations

import csv
import io

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from app.services.accounts import create_user_with_token
from spatial.emerging.categories import category_label
from spatial.evidence import NO_HOT_SPOT_NOTE
from spatial.synthetic import write_synthetic_csv
from tests.conftest import auth
from tests.contract.conftest import SAMPLE_BOUNDARIES, StoreUnderTest
from tests.contract.test_service_on_both import BASSETERRE, tile_of

YEAR = {"start": "2025-01-01T00:00:00", "end": "2026-01-01T00:00:00"}


@pytest.fixture
def people(store: StoreUnderTest, client: TestClient, tmp_path) -> dict[str, dict[str, str]]:
    headers = {role: auth(create_user_with_token(store, f"emerging-{role}", role))
               for role in ("viewer", "analyst", "gis")}
    with SAMPLE_BOUNDARIES.open("rb") as handle:
        assert client.post("/api/v1/boundary-sets", headers=headers["gis"], files={"file": ("p.geojson", handle)},
                           data={"activate": "true"}).status_code == 201
    path = write_synthetic_csv(tmp_path / "incidents.csv", 6000, 11)
    with path.open("rb") as handle:
        imported = client.post("/api/v1/incidents/imports", headers=headers["analyst"],
                               files={"file": ("incidents.csv", handle)}, data={"source": "SYNTHETIC-test"})
    assert imported.status_code == 201, imported.text
    return headers


def _run(client: TestClient, headers: dict[str, str], **asked) -> dict:
    submitted = client.post("/api/v1/analyses", headers=headers,
                            json={"kind": "emerging", "resolution": 8, "seed": 3, **YEAR, **asked})
    assert submitted.status_code == 202, submitted.text
    run = client.get(submitted.json()["url"], headers=headers).json()
    assert run["status"] == "completed", run
    return run


def test_an_emerging_run_counts_whole_steps_and_stores_each_cells_pattern(client: TestClient, people):
    analyst = people["analyst"]
    run = _run(client, analyst)
    provenance = run["provenance"]
    assert provenance["steps"]["labels"] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert sum(provenance["steps"]["incidents"]) == provenance["incidents_used"] > 0
    assert sum(provenance["patterns"].values()) == provenance["cells"]
    cells = client.get(f"/api/v1/analyses/{run['id']}/cells", headers=analyst, params={"limit": 5000}).json()
    features = cells["features"]
    assert len(features) == provenance["cells"]
    for feature in features:
        p = feature["properties"]
        classes, counts = p["step_classes"].split(","), [int(c) for c in p["step_counts"].split(",")]
        assert len(classes) == len(counts) == 12 and sum(counts) == p["incidents"]
        assert p["pattern"] == category_label(p["category"])
        assert all(int(c) in range(-3, 4) for c in classes)
    # The cells' counts per step add up to the run's count of each step.
    per_step = [sum(int(f["properties"]["step_counts"].split(",")[i]) for f in features) for i in range(12)]
    assert per_step == provenance["steps"]["incidents"]

    ranking = client.get(f"/api/v1/analyses/{run['id']}/neighbourhoods", headers=analyst)
    assert ranking.status_code == 200, ranking.text
    table = client.get(f"/api/v1/analyses/{run['id']}/cells", headers=analyst, params={"format": "csv", "limit": 5000})
    assert table.status_code == 200
    header = next(csv.reader(io.StringIO(table.text)))
    assert {"category", "pattern", "step_classes", "step_counts", "trend_tau"} <= set(header)

    x, y = tile_of(*BASSETERRE, 12)
    tile = client.get(f"/tiles/hotspots/12/{x}/{y}.mvt", headers=analyst, params={"run": run["id"]})
    assert tile.status_code == 200
    drawn = mapbox_vector_tile.decode(tile.content)["hotspots"]["features"]
    assert drawn and all(len(f["properties"]["step_classes"].split(",")) == 12 for f in drawn)
    x, y = tile_of(*BASSETERRE, 9)  # low zoom: the coarser parents, each step's strongest class kept
    low = client.get(f"/tiles/hotspots/9/{x}/{y}.mvt", headers=analyst, params={"run": run["id"]})
    assert low.status_code == 200
    parents = mapbox_vector_tile.decode(low.content)["hotspots"]["features"]
    assert parents and all(len(f["properties"]["step_classes"].split(",")) == 12 for f in parents)
    tilejson = client.get("/tiles/hotspots.json", headers=analyst, params={"run": run["id"]}).json()
    assert "Emerging" in tilejson["description"] or "Emerging" in tilejson["name"]
    # The home page says what each run is; a community's ranking comes from hot and cold spot runs only.
    home = client.get("/", headers=analyst).text
    assert "Emerging hot and cold spots, 12 months" in home
    assert "2025-01-01 to 2025-12-31" in home and "police only" in home  # the period with its last day
    community = client.get("/api/v1/communities", headers=analyst).json()
    first = (community["communities"] if isinstance(community, dict) else community)[0]
    page = client.get(f"/communities/{first['id']}", headers=analyst)
    assert page.status_code == 200 and "No completed hot and cold spot run" in page.text


def test_a_partner_sees_patterns_and_classes_of_shared_runs_never_counts_per_step(client: TestClient, people):
    run = _run(client, people["analyst"], audience="shared", resolution=7)
    viewer = people["viewer"]
    seen = client.get(f"/api/v1/analyses/{run['id']}", headers=viewer).json()["provenance"]
    assert seen["patterns"] == run["provenance"]["patterns"] and seen["incidents_used"] is None
    assert "steps" not in seen and "incidents_by_community" not in seen  # counts per step and community stay in
    assert "could_any_pass" not in seen["significance"]
    assert seen["evidence"]["message"] in (None, NO_HOT_SPOT_NOTE)  # from the published classes only
    cells = client.get(f"/api/v1/analyses/{run['id']}/cells", headers=viewer, params={"limit": 5000})
    assert cells.status_code == 200, cells.text
    for feature in cells.json()["features"]:
        p = feature["properties"]
        assert "step_counts" not in p and "trend_tau" not in p and "last_gi_z" not in p
        assert len(p["step_classes"].split(",")) == 12 and p["pattern"]
        assert p["incidents"] is None or p["incidents"] >= 5
    x, y = tile_of(*BASSETERRE, 11)
    tile = client.get(f"/tiles/hotspots/11/{x}/{y}.mvt", headers=viewer, params={"run": run["id"]})
    if tile.status_code == 200:
        for feature in mapbox_vector_tile.decode(tile.content)["hotspots"]["features"]:
            assert "step_counts" not in feature["properties"] and "trend_tau" not in feature["properties"]


@pytest.mark.parametrize(("asked", "words"), [
    ({"step": "quarter"}, "at least 10 whole quarters"),
    ({"step": "week", "audience": "shared", "resolution": 7}, "steps by month or quarter"),
    ({"kind": "hotspot", "step": "month"}, "step is for emerging runs"),
    ({"step": "day"}, "365 whole days; an emerging run analyses at most 120"),
])
def test_runs_that_cannot_be_emerging_are_refused_in_words(client: TestClient, people, asked, words):
    answer = client.post("/api/v1/analyses", headers=people["analyst"],
                         json={"kind": "emerging", "resolution": 8, **YEAR, **asked})
    assert answer.status_code in (400, 422) and words in answer.text, answer.text
