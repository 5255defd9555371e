"""Rates per resident over the API, on the Chicago community areas (2020 population) and 10,000 incidents.

Checked against the test's own computation: incidents per area counted here by point in
polygon (shapely), divided by the areas' 2020 population (``TOT_POP``); the smoothed rates
and the rate Moran's I against esda itself (``Empirical_Bayes``, ``Spatial_Empirical_Bayes``,
``Moran_Rate``) on the same counts, queen contiguity (libpysal ``Queen``).
"""

from __future__ import annotations

import csv
import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from bs4 import BeautifulSoup
from esda.moran import Moran_Local_BV, Moran_Rate
from esda.smoothing import Empirical_Bayes, Spatial_Empirical_Bayes
from libpysal.weights import Queen

from app.services.incident_import import import_incidents
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.spatial.chicago_rates_data import CHICAGO_AREAS, CHICAGO_INCIDENTS, chicago_areas


def _properties() -> list[dict]:
    return [f["properties"] for f in json.loads(CHICAGO_AREAS.read_text())["features"]]


def _figures_csv(tmp_path, name: str, header: list[str], rows: list[list]) -> bytes:
    path = tmp_path / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path.read_bytes()


def _upload(client, token, content: bytes, name: str = "figures.csv", **form):
    return client.post("/api/v1/communities/figures", headers=auth(token), files={"file": (name, content)},
                       data={k: str(v) for k, v in form.items()})


def _chicago_run(client, tokens, store) -> int:
    """The Chicago areas active, the 10k incidents imported, a police run of every area; its id."""
    with CHICAGO_AREAS.open("rb") as handle:
        boundaries = client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                                 files={"file": ("chicago.geojson", handle)}, data={"activate": "true"})
    assert boundaries.status_code == 201, boundaries.text
    import_incidents(store, CHICAGO_INCIDENTS, filename="chicago.csv", source="chi",
                     options=ReadOptions(timezone=ZoneInfo("America/Chicago")))
    run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                      json={"resolution": 8, "permutations": 0, "seed": 11})
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    assert client.get(f"/api/v1/analyses/{run_id}", headers=auth(tokens["analyst"])).json()["status"] == "completed"
    return run_id


@pytest.fixture
def chicago(client, tokens, store, tmp_path) -> dict:
    run_id = _chicago_run(client, tokens, store)
    properties = _properties()
    # Keyed by the area number (the boundary file's code), the 2020 ACS total population.
    population = _figures_csv(tmp_path, "population.csv", ["area_num_1", "TOT_POP"],
                              [[p["area_num_1"], p["TOT_POP"]] for p in properties])
    uploaded = _upload(client, tokens["gis"], population, kind="population", year=2020,
                       source="ACS 2016-2020 via GeoDa Center", unit="residents")
    assert uploaded.status_code == 201, uploaded.text
    # Keyed by name in capitals, as the file spells them: unemployment share and median income.
    factors = _figures_csv(tmp_path, "factors.csv", ["community", "unemployment", "median income"],
                           [[p["community"], round(100 * p["UNEMP"] / p["IN_LBFRC"], 2), p["MEDINC"]]
                            for p in properties])
    indicators = _upload(client, tokens["gis"], factors, kind="indicator", year=2020, unit="% / USD",
                         source="ACS 2016-2020")
    assert indicators.status_code == 201, indicators.text
    return {"run_id": run_id, "population": uploaded.json(), "indicators": indicators.json()}


def test_rates_per_1000_match_a_count_of_our_own_and_esda(client, tokens, chicago):
    uploaded = chicago["population"]
    assert uploaded["keyed_by"] == "code" and uploaded["figures"][0]["communities"] == 77
    assert chicago["indicators"]["keyed_by"] == "name"
    assert [f["name"] for f in chicago["indicators"]["figures"]] == ["unemployment", "median income"]

    body = client.get(f"/api/v1/analyses/{chicago['run_id']}/rates", headers=auth(tokens["analyst"]),
                      params={"per": 1000}).json()
    assert body["population"]["year"] == 2020 and body["population"]["from"] == "uploaded figures"
    rows = sorted(body["communities"], key=lambda r: r["community"])
    assert len(rows) == 77
    areas = chicago_areas()
    ours = dict(zip((n.casefold() for n in areas.names), zip(areas.incidents.tolist(), areas.population.tolist())))
    counted = np.array([r["incidents"] for r in rows], dtype=float)
    own = np.array([ours[r["community"].casefold()][0] for r in rows], dtype=float)
    population = np.array([ours[r["community"].casefold()][1] for r in rows], dtype=float)
    # The service assigns each incident to one area at import; ours gives an incident on a shared
    # edge to the first area. Every area agrees within 2 incidents, and in total within 0.1 %.
    assert np.abs(counted - own).max() <= 2 and abs(counted.sum() - own.sum()) <= 0.001 * own.sum()
    assert [r["population"] for r in rows] == population.tolist()
    np.testing.assert_allclose([r["rate"] for r in rows], own / population * 1000, atol=0.02)
    np.testing.assert_allclose([r["rate"] for r in rows], counted / population * 1000, atol=5e-4)

    # esda on the service's own counts, the areas in the same order with queen contiguity.
    order = {n.casefold(): i for i, n in enumerate(areas.names)}
    polygons = [areas.polygons[order[r["community"].casefold()]] for r in rows]
    w = Queen.from_iterable(polygons, ids=list(range(len(polygons))), silence_warnings=True)
    w.id_order = list(range(len(polygons)))
    e, b = counted.reshape(-1, 1), population.reshape(-1, 1)
    np.testing.assert_allclose([r["smoothed_rate"] for r in rows], Empirical_Bayes(e, b).r.ravel() * 1000, atol=5e-4)
    np.testing.assert_allclose([r["spatial_smoothed_rate"] for r in rows],
                               Spatial_Empirical_Bayes(e, b, w).r.ravel() * 1000, atol=5e-4)
    assert body["rate_moran"]["I"] == pytest.approx(Moran_Rate(counted, population, w, permutations=0).I, abs=1e-4)
    assert body["rate_moran"]["communities"] == 77 and body["rate_moran_says"]
    flagged = {r["community"] for r in rows if r["small_population"]}
    expected_small = {r["community"] for r in rows if r["expected_incidents"] < 20}
    assert flagged == expected_small

    per_10k = client.get(f"/api/v1/analyses/{chicago['run_id']}/rates", headers=auth(tokens["analyst"]),
                         params={"per": 10000}).json()
    assert sorted(r["rate"] for r in per_10k["communities"]) == pytest.approx(
        sorted(10 * r["rate"] for r in rows), abs=0.01)
    refused = client.get(f"/api/v1/analyses/{chicago['run_id']}/rates", headers=auth(tokens["analyst"]),
                         params={"per": 500})
    assert refused.status_code == 400 and "1000 or 10000" in refused.json()["error"]["message"]


def test_ranking_by_smoothed_rate(client, tokens, chicago):
    url = f"/api/v1/analyses/{chicago['run_id']}/neighbourhoods"
    by_rate = client.get(url, headers=auth(tokens["analyst"]), params={"order": "smoothed_rate"}).json()
    smoothed = [n["smoothed_rate"] for n in by_rate["neighbourhoods"]]
    assert len(smoothed) == 77 and smoothed == sorted(smoothed, reverse=True)
    assert [n["rank"] for n in by_rate["neighbourhoods"]] == list(range(1, 78))
    assert "smoothed rate" in by_rate["ranking_rule"]
    by_hot_cells = client.get(url, headers=auth(tokens["analyst"])).json()
    assert "smoothed_rate" not in by_hot_cells["neighbourhoods"][0]
    assert client.get(url, headers=auth(tokens["analyst"]), params={"order": "alphabet"}).status_code == 422


def test_community_page_shows_population_rates_and_indicators(client, tokens, chicago):
    listed = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"]
    douglas = next(c for c in listed if c["name"].casefold() == "douglas")
    rates = client.get(f"/api/v1/analyses/{chicago['run_id']}/rates", headers=auth(tokens["analyst"])).json()
    entry = next(r for r in rates["communities"] if r["community_id"] == douglas["id"])
    page = BeautifulSoup(client.get(f"/communities/{douglas['id']}", headers=auth(tokens["analyst"])).text,
                         "html.parser")
    assert page.select_one(".rates .population").get_text(strip=True) == "21,325"  # TOT_POP of Douglas
    source = page.select_one(".population-source").get_text(" ", strip=True)
    assert "2020" in source and "ACS 2016-2020 via GeoDa Center" in source
    assert float(page.select_one(".raw-rate").get_text(strip=True)) == entry["rate"]
    assert float(page.select_one(".smoothed-rate").get_text(strip=True)) == entry["smoothed_rate"]
    figures = {tr.find_all("td")[0].get_text(): tr.find_all("td")[1].get_text()
               for tr in page.select("table.figures tr") if tr.find_all("td")}
    assert figures == {"population": "21,325", "unemployment": f"{100 * 1287 / 9834:.4g}", "median income": "31,856"}


def test_bad_figure_files_are_refused_row_by_row_and_change_nothing(client, tokens, chicago, tmp_path):
    before = client.get("/api/v1/communities/figures", headers=auth(tokens["viewer"])).json()["figures"]
    assert [(f["name"], f["version"], f["active"]) for f in before] == [
        ("median income", 1, True), ("unemployment", 1, True), ("population", 1, True)]
    bad = _figures_csv(tmp_path, "bad.csv", ["Community", "Population"], [
        ["Douglas", "21325"], ["Narnia", "5"], ["DOUGLAS", "1"], ["Oakland", "-6"], ["Loop", "n/a"]])
    refused = _upload(client, tokens["gis"], bad, kind="population", year=2020)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert [r["row"] for r in error["details"]["rejected_rows"]] == [3, 4, 5, 6]
    assert "nothing was stored" in error["message"]
    mixed = _figures_csv(tmp_path, "mixed.csv", ["area", "population"], [["35", "1"], ["Oakland", "2"]])
    ambiguous = _upload(client, tokens["gis"], mixed, kind="population")
    assert ambiguous.status_code == 422 and "codes in some rows and names in others" in ambiguous.json()["error"]["message"]
    assert client.get("/api/v1/communities/figures", headers=auth(tokens["viewer"])).json()["figures"] == before
    assert _upload(client, tokens["gis"], bad, kind="households").status_code == 400
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"action": "figures.upload"}).json()
    outcomes = sorted(e["outcome"] for e in audit["entries"])
    assert outcomes.count("ok") == 2 and outcomes.count("refused") == 3


def test_crime_beside_unemployment_matches_esda(client, tokens, chicago):
    url = f"/api/v1/analyses/{chicago['run_id']}/factors"
    body = client.get(url, headers=auth(tokens["analyst"]), params={"indicator": "unemployment"}).json()
    assert "association, not cause" in body["association_not_cause"] and body["says"]
    assert body["indicator"]["year"] == 2020 and body["inference"]["fdr"] == "Benjamini-Hochberg"
    rows = body["communities"]
    assert len(rows) == 77 and body["left_out"] == []
    areas = chicago_areas()
    order = {n.casefold(): i for i, n in enumerate(areas.names)}
    positions = [order[r["community"].casefold()] for r in rows]
    # The indicator as uploaded (unemployed per 100 in the labour force, rounded to 2 decimals).
    np.testing.assert_allclose([r["indicator"] for r in rows], np.round(100 * areas.unemployment[positions], 2))
    w = Queen.from_iterable([areas.polygons[i] for i in positions], ids=list(range(77)), silence_warnings=True)
    reference = Moran_Local_BV(np.array([r["smoothed_rate"] for r in rows]), np.array([r["indicator"] for r in rows]),
                               w, transformation="r", permutations=0)
    np.testing.assert_allclose([r["local_i"] for r in rows], reference.Is, atol=1e-5)
    labelled = [r for r in rows if r["cluster"] not in ("Not significant", "No neighbours")]
    quadrant = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
    assert all(r["cluster"] == quadrant[int(q)] for r, q in zip(rows, reference.q) if r in labelled)
    missing = client.get(url, headers=auth(tokens["analyst"]), params={"indicator": "rainfall"})
    assert missing.status_code == 404 and "unemployment" in missing.json()["error"]["message"]


def test_without_an_upload_the_boundary_files_population_is_used(client, tokens, store):
    """The Chicago areas carry TOT_POP, detected as the population field when the boundaries were read."""
    run_id = _chicago_run(client, tokens, store)
    body = client.get(f"/api/v1/analyses/{run_id}/rates", headers=auth(tokens["analyst"])).json()
    assert body["population"]["from"] == "boundary file"
    by_name = {p["community"].casefold(): p["TOT_POP"] for p in _properties()}
    assert {r["community"].casefold(): r["population"] for r in body["communities"]} == by_name
