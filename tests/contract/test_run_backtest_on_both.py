"""The back-test of a run over HTTP, on PostGIS and on the embedded SQLite store, with a planted history.

History (seeded, numpy seed 16): 100 thefts a month spread uniformly over St Kitts (source
"background") and 30 a month around Basseterre (source "hotspot", normal, sd 0.005°, about 550 m), January to
July 2024. Runs at H3 resolution 8 on May 2024 (permutations 99, seed 3): with both sources the hot
spot persists, so the June back-test must beat chance; with the background only (a null history)
the run's top 5 % must not.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.services import backtests
from app.services.accounts import create_user_with_token
from tests.conftest import auth
from tests.contract.conftest import SAMPLE_BOUNDARIES, StoreUnderTest

BASSETERRE = (17.2955, -62.7261)
ST_KITTS_BOX = (17.20, 17.40, -62.85, -62.65)
MONTHS = range(1, 8)
MAY = {"start": "2024-05-01T00:00:00", "end": "2024-06-01T00:00:00", "resolution": 8, "permutations": 99,
       "seed": 3}


@pytest.fixture
def history(client: TestClient, store: StoreUnderTest) -> dict[str, dict[str, str]]:
    tokens = {role: create_user_with_token(store, f"bt-{role}", role) for role in ("gis", "analyst", "partner")}
    headers = {role: auth(token) for role, token in tokens.items()}
    with SAMPLE_BOUNDARIES.open("rb") as handle:
        uploaded = client.post("/api/v1/boundary-sets", headers=headers["gis"],
                               files={"file": ("parishes.geojson", handle)}, data={"activate": "true"})
    assert uploaded.status_code == 201, uploaded.text
    rng = np.random.default_rng(16)
    south, north, west, east = ST_KITTS_BOX
    for source, per_month, place in (("background", 100, None), ("hotspot", 30, BASSETERRE)):
        rows = ["id,latitude,longitude,date,category"]
        for month in MONTHS:
            if place is None:
                lat, lon = rng.uniform(south, north, per_month), rng.uniform(west, east, per_month)
            else:
                lat, lon = place[0] + rng.normal(0, 0.005, per_month), place[1] + rng.normal(0, 0.005, per_month)
            days = rng.integers(1, 29, per_month)
            rows += [f"{source}-{month}-{i},{a:.6f},{b:.6f},2024-{month:02d}-{d:02d} 12:00,Theft"
                     for i, (a, b, d) in enumerate(zip(lat, lon, days, strict=True))]
        imported = client.post("/api/v1/incidents/imports", headers=headers["analyst"],
                               files={"file": (f"{source}.csv", "\n".join(rows).encode())}, data={"source": source})
        assert imported.status_code == 201, imported.text
    return headers


def _run(client: TestClient, headers: dict, **body) -> int:
    response = client.post("/api/v1/analyses", headers=headers, json={**MAY, **body})
    assert response.status_code == 202, response.text
    assert client.get(response.json()["url"], headers=headers).json()["status"] == "completed"
    return response.json()["id"]


def test_persistent_hot_spot_beats_chance_and_last_month(client, history):
    run_id = _run(client, history["analyst"], sources=["background", "hotspot"])
    response = client.get(f"/api/v1/analyses/{run_id}/backtest", headers=history["analyst"])
    assert response.status_code == 200, response.text
    body = response.json()
    june, *earlier = body["windows"]
    assert june["test_window"]["start"].startswith("2024-06-01") and june["status"] == "measured"
    hot = june["hot_spot_map"]
    assert hot["pai"] > 3 and hot["beats_chance"]
    # one window is noise; over the four windows the analysis beats last period's top cells of the same area
    assert np.mean([w["hot_spot_map"]["pai"] for w in body["windows"]]) > np.mean(
        [w["last_period_top_cells"]["pai"] for w in body["windows"]])
    # June is counted as a run over June counts it (its communities and filters, all in the grid)
    june_run = _run(client, history["analyst"], sources=["background", "hotspot"], start="2024-06-01T00:00:00",
                    end="2024-07-01T00:00:00")
    used = client.get(f"/api/v1/analyses/{june_run}", headers=history["analyst"]).json()["provenance"]
    assert hot["incidents"] == used["incidents_used"]
    assert hot["recapture_rate_index"] is not None
    # rolling pairs: April -> May, March -> April, February -> March, each with the same analysis
    assert [w["test_window"]["start"][:10] for w in earlier] == ["2024-05-01", "2024-04-01", "2024-03-01"]
    assert all(w["status"] == "measured" and w["hot_spot_map"]["beats_chance"] for w in earlier)
    kept = client.get(f"/api/v1/analyses/{run_id}", headers=history["analyst"]).json()["provenance"]["backtest"]
    assert kept["windows"] == body["windows"]
    # ...and the run's map says it in words, with the figures police may see
    page = client.get(f"/maps/analyses/{run_id}", headers=history["analyst"]).text
    assert "Would it have predicted?" in page and "Back-test on the next period (2024-06-01" in page
    assert f"{hot['incidents']} incidents" in page and "last period&#x27;s top cells PAI" in page
    assert "In 3 of 3 earlier periods the same analysis beat a random map" in page


def test_null_history_is_not_better_than_chance(client, history):
    run_id = _run(client, history["analyst"], sources=["background"])
    url = f"/api/v1/analyses/{run_id}/backtest"
    refused = client.get(url, headers=history["analyst"])
    if refused.status_code == 409:  # Gi* found nothing on a null history: the words say what to do
        assert "?top=5" in refused.json()["error"]["message"]
    response = client.get(url, headers=history["analyst"], params={"top": 5, "rolling": 0})
    assert response.status_code == 200, response.text
    june = response.json()["windows"][0]
    low, high = june["hot_spot_map"]["pai_interval"]
    assert low <= 1 <= high
    assert "cannot be told apart from chance" in june["hot_spot_map"]["verdict"]


def test_partners_see_the_kept_ratios_of_shared_runs_only(client, history, store):
    police = _run(client, history["analyst"], sources=["background", "hotspot"])
    shared = _run(client, history["analyst"], audience="shared")
    url = f"/api/v1/analyses/{shared}/backtest"
    assert client.get(f"/api/v1/analyses/{police}/backtest", headers=history["partner"]).status_code == 404
    # partners cannot count incidents: until police have computed it, there is nothing to show
    assert client.get(url, headers=history["partner"]).status_code == 409
    assert "Would it have predicted?" not in client.get(f"/maps/analyses/{shared}", headers=history["partner"]).text
    assert "Not back-tested yet" in client.get(f"/maps/analyses/{shared}", headers=history["analyst"]).text
    computed = client.get(url, headers=history["analyst"])
    assert computed.status_code == 200, computed.text
    assert client.get(f"/api/v1/analyses/{shared}", headers=history["analyst"]).json()["provenance"]["backtest"]
    # ...and the run's record shows partners none of it
    assert "backtest" not in client.get(f"/api/v1/analyses/{shared}", headers=history["partner"]).json()["provenance"]
    response = client.get(url, headers=history["partner"])
    assert response.status_code == 200, response.text
    for window in response.json()["windows"]:
        assert window["status"] in ("measured", "not measured") and "flagged_cells" not in window
        for name in backtests.MAPS:
            if name in window:  # words and a rounded PAI: no hit rate, interval or count n/N could be solved from
                assert set(window[name]) <= {"pai_about", "beats_chance", "worse_than_chance", "verdict",
                                             "suppressed", "reason", "measured"}
    june = response.json()["windows"][0]["hot_spot_map"]
    raw_june = computed.json()["windows"][0]["hot_spot_map"]
    assert june["pai_about"] == round(raw_june["pai"] * 2) / 2 and june["pai_about"] > 1
    assert june["beats_chance"] == raw_june["beats_chance"]
    assert str(raw_june["incidents"]) not in june["verdict"] and "interval" not in june["verdict"]
    assert "hit rate n/N" in response.json()["method"] and "never the counts" in response.json()["method"]
    page = client.get(f"/maps/analyses/{shared}", headers=history["partner"]).text  # words and rounded PAIs only
    assert "Would it have predicted?" in page and f"about {june['pai_about']:g} times their share" in page
    box = re.search(r'Would it have predicted\?(.*?)(?<!\\)"', page)  # the box's HTML, a JSON string in the page
    assert box is not None and "times their share" in box.group(1)
    assert not re.search(rf"\b{raw_june['incidents']}\b", box.group(1)) and "interval" not in box.group(1)
    assert client.get(url, headers=history["partner"], params={"top": 5}).status_code == 400
    scoped = create_user_with_token(store, "bt-scoped", "partner")
    store.accounts.set_scope(store.accounts.find_user("bt-scoped").id, ["Saint Mary Cayon"])
    store.session.commit()
    assert client.get(url, headers=auth(scoped)).status_code == 404


def test_a_run_without_a_period_is_refused_in_words(client, history):
    run_id = _run(client, history["analyst"], start=None, sources=["background", "hotspot"])
    response = client.get(f"/api/v1/analyses/{run_id}/backtest", headers=history["analyst"])
    assert response.status_code == 409
    assert "has no start date" in response.json()["error"]["message"]
    bad = client.get(f"/api/v1/analyses/{run_id}/backtest", headers=history["analyst"], params={"top": 80})
    assert bad.status_code == 422


def test_a_top_share_smaller_than_one_cell_is_refused_in_words(client, history):
    run_id = _run(client, history["analyst"], sources=["background", "hotspot"])
    tiny = client.get(f"/api/v1/analyses/{run_id}/backtest", headers=history["analyst"], params={"top": 0.001})
    assert tiny.status_code == 400, tiny.text
    assert "is less than one cell" in tiny.json()["error"]["message"]
    assert "Gi_Bin" not in tiny.json()["error"]["message"]  # not the words for a run without hot cells


def test_small_counts_are_suppressed_for_partners():
    audience = backtests.Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0,
                                  communities=None)
    few = backtests._accuracy(np.array([1.0, 0, 0, 0]), np.array([3, 10, 10, 10]), np.array([1, 1, 1, 1]),
                              _equal_cells(4), seed=1)
    assert backtests._published(few, audience) == {
        "suppressed": True, "reason": "Too few incidents inside or outside the flagged cells to publish this figure."}
    enough = backtests._accuracy(np.array([1.0, 0, 0, 0]), np.array([6, 10, 10, 10]), np.array([1, 1, 1, 1]),
                                 _equal_cells(4), seed=1)
    shown = backtests._published(enough, audience)
    assert shown["suppressed"] is False and "hit_rate" not in shown and "pai_interval" not in shown
    assert shown["pai_about"] == round(enough["pai"] * 2) / 2 and "36" not in shown["verdict"]


def _equal_cells(n: int) -> backtests.RunGrid:
    zeros = np.zeros(n)
    return backtests.RunGrid(np.arange(n), zeros, zeros, np.ones(n), zeros, zeros, 1.0)


def test_the_service_keeps_the_default_backtest_in_provenance(client, history, store):
    run_id = _run(client, history["analyst"], sources=["background", "hotspot"])
    police = backtests.Audience(role="analyst", raw=True, min_count=5, max_resolution=8, hold_back_days=0,
                                communities=None)
    result = backtests.backtest(store, run_id, police, zone=store.settings.zone, rolling=1)
    assert "backtest" not in store.runs.get_run(run_id).provenance.document  # not the default: not kept
    result = backtests.backtest(store, run_id, police, zone=store.settings.zone)
    kept = store.runs.get_run(run_id).provenance.document
    assert kept["backtest"]["windows"] == result["windows"]
    assert kept["incidents_used"] > 0  # the rest of the provenance is left as it was
