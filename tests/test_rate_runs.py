"""Hot spots of risk: a hotspot run with ``value: rate`` on the Chicago community areas.

Populations: the areas' 2020 population (ACS via GeoDa Center), uploaded. The cells' smoothed
rates are checked against a global Empirical Bayes computed here by hand (Marshall 1991,
method of moments) from the residents and incidents the police CSV gives for each cell.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from bs4 import BeautifulSoup

from tests.conftest import auth
from tests.test_rates_api import _chicago_run, _figures_csv, _properties, _upload, chicago  # noqa: F401


@pytest.fixture
def rate_run(client, tokens, store, tmp_path) -> dict:
    _chicago_run(client, tokens, store)
    properties = _properties()
    population = _figures_csv(tmp_path, "population.csv", ["area_num_1", "TOT_POP"],
                              [[p["area_num_1"], p["TOT_POP"]] for p in properties])
    assert _upload(client, tokens["gis"], population, kind="population", year=2020,
                   source="ACS 2016-2020 via GeoDa Center").status_code == 201
    queued = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                         json={"resolution": 8, "seed": 5, "value": "rate"})
    assert queued.status_code == 202, queued.text
    run = client.get(f"/api/v1/analyses/{queued.json()['id']}", headers=auth(tokens["analyst"])).json()
    assert run["status"] == "completed", run["error"]
    return {"run": run, "total": float(sum(p["TOT_POP"] for p in properties))}


def _cells_csv(client, token, run_id) -> list[dict]:
    response = client.get(f"/api/v1/analyses/{run_id}/cells?format=csv", headers=auth(token))
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_rate_run_analyses_smoothed_cell_rates_with_sequential_p(client, tokens, rate_run):
    run = rate_run["run"]
    assert run["parameters"]["value"] == "rate" and run["parameters"]["rate_per"] == 1000
    rates = run["provenance"]["rates"]
    # every resident placed once: on the grid's cells, or in the slivers of edge cells off the grid
    assert rates["residents_total"] == pytest.approx(rate_run["total"], rel=1e-9)
    assert 0.97 * rate_run["total"] < rates["residents"] < rate_run["total"]
    assert any("outer edge" in note for note in rates["notes"])
    significance = run["provenance"]["significance"]
    assert significance["method"] == "poisson-gamma-neighbourhood"
    assert significance["risk_spread_cv2"] >= 0
    # no permutations: one cell could pass FDR over the whole grid
    assert significance["smallest_reachable_p"] <= run["provenance"]["significance"]["alpha"] / run["provenance"]["cells"]

    rows = _cells_csv(client, tokens["analyst"], run["id"])
    residents = np.array([float(r["residents"]) for r in rows])
    incidents = np.array([float(r["incidents"]) for r in rows])
    smoothed = np.array([float(r["smoothed_rate"]) for r in rows])
    assert residents.sum() == pytest.approx(rates["residents"], rel=1e-6)
    # global Empirical Bayes by hand, over the cells with residents; the others take the overall rate
    has = residents > 0
    e, b = incidents[has], residents[has]
    mean = e.sum() / b.sum()
    variance = max((b * (e / b - mean) ** 2).sum() / b.sum() - mean / b.mean(), 0.0)
    weight = variance / (variance + mean / b)
    expected = np.full(len(rows), mean * 1000)
    expected[has] = (mean + weight * (e / b - mean)) * 1000
    np.testing.assert_allclose(smoothed, expected, rtol=1e-6)
    assert rates["overall_rate"] == pytest.approx(mean * 1000, rel=1e-6)
    # hot spots of risk are found, and they are not simply the busiest cells
    hot = np.array([int(r["gi_bin"]) >= 2 for r in rows])
    assert hot.any()
    # the z shown is the test's own: a class never sits beside a z of the other sign
    z = np.array([float(r["gi_z"]) if r["gi_z"] not in ("", None) else np.nan for r in rows])
    classes = np.array([int(r["gi_bin"]) for r in rows])
    assert (np.sign(z[classes != 0]) == np.sign(classes[classes != 0])).all()


def test_count_runs_leave_the_rate_columns_empty(client, tokens, store):
    run_id = _chicago_run(client, tokens, store)
    run = client.get(f"/api/v1/analyses/{run_id}", headers=auth(tokens["analyst"])).json()
    assert "value" not in run["parameters"] and "rates" not in run["provenance"]
    row = _cells_csv(client, tokens["analyst"], run_id)[0]
    assert row["residents"] == "" and row["smoothed_rate"] == ""


def test_rate_run_without_a_population_is_refused_in_words(client, tokens, store, tmp_path):
    _chicago_run(client, tokens, store)
    properties = _properties()
    population = _figures_csv(tmp_path, "population.csv", ["area_num_1", "TOT_POP"],
                              [[p["area_num_1"], p["TOT_POP"]] for p in properties[1:]])
    assert _upload(client, tokens["gis"], population, kind="population", year=2020).status_code == 201
    refused = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                          json={"resolution": 8, "seed": 5, "value": "rate"})
    assert refused.status_code in (400, 422), refused.text
    message = refused.text
    assert "population" in message and properties[0]["community"].casefold() in message.casefold()
    # a rate is a hotspot-run option only
    emerging = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                           json={"resolution": 8, "kind": "emerging", "value": "rate"})
    assert emerging.status_code == 422 and "hotspot" in emerging.text


def test_cell_rates_stay_with_the_police(client, tokens, rate_run):
    """A cell's rate and residents give back its exact count: never published, never in a partner's file."""
    from spatial.kinds.hotspot import HOTSPOT

    for name in ("residents", "smoothed_rate"):
        assert name not in HOTSPOT.published_fields and name not in HOTSPOT.published_csv_columns
    response = client.get(f"/api/v1/analyses/{rate_run['run']['id']}/cells?format=csv", headers=auth(tokens["viewer"]))
    assert response.status_code in (403, 404)  # a police run is not shown below analyst at all


def _page_data(html: str) -> tuple[BeautifulSoup, dict]:
    soup = BeautifulSoup(html, "html.parser")
    return soup, json.loads(soup.find("script", id="rates-data").string)


def test_rates_map_page_colours_communities_by_smoothed_rate_and_by_a_factor(client, tokens, chicago):  # noqa: F811
    from app.services.rates_page import BIVARIATE, HIDDEN_COLOUR, RATE_COLOURS

    run_id = chicago["run_id"]
    page = client.get(f"/analyses/{run_id}/rates", headers=auth(tokens["analyst"]))
    assert page.status_code == 200, page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    soup, data = _page_data(page.text)
    assert len(data["features"]) == 77
    rates = client.get(f"/api/v1/analyses/{run_id}/rates", headers=auth(tokens["analyst"])).json()
    smoothed = {c["community"]: c["smoothed_rate"] for c in rates["communities"]}
    by_rate = sorted(data["features"], key=lambda f: f["properties"]["smoothed_rate"])
    assert {f["properties"]["smoothed_rate"] for f in by_rate} == set(smoothed.values())
    # quintiles: the lowest rates take the first colour, the highest the last, and colours never go down
    order = [RATE_COLOURS.index(f["properties"]["colour"]) for f in by_rate]
    assert order == sorted(order) and order[0] == 0 and order[-1] == 4
    assert len(soup.select(".legend .legend-row")) == 6  # five classes and "no rate"
    assert all(src.startswith("/static/") for src in (s.get("src") for s in soup.find_all("script")) if src)
    assert [o["value"] for o in soup.select("#indicator option")][1:] == ["median income", "unemployment"]

    paired = client.get(f"/analyses/{run_id}/rates?indicator=unemployment", headers=auth(tokens["analyst"]))
    soup, data = _page_data(paired.text)
    colours = {c for row in BIVARIATE for c in row}
    assert {f["properties"]["colour"] for f in data["features"]} <= colours | {HIDDEN_COLOUR}
    assert len({f["properties"]["colour"] for f in data["features"]}) >= 5  # the 3 x 3 classes are used
    assert len(soup.select("table.bivariate-legend td.cell")) == 9
    assert "association" in soup.select_one(".association").get_text().lower()
    assert "not" in soup.select_one(".association").get_text().lower()
    assert len(soup.select("table.bivariate-table tr")) == 78
    # highest crime third and highest unemployment third share the darkest colour
    top = [f for f in data["features"] if f["properties"]["colour"] == BIVARIATE[2][2]]
    assert top and all("crime rate high, unemployment high" == f["properties"]["classes"] for f in top)

    # a stale or hand-typed indicator: an HTML page with the rates alone and the reason, not a JSON 404
    missing = client.get(f"/analyses/{run_id}/rates?indicator=no-such", headers=auth(tokens["analyst"]))
    assert missing.status_code == 200 and missing.headers["content-type"].startswith("text/html")
    soup, data = _page_data(missing.text)
    assert "no-such" in soup.select_one(".indicator-missing").get_text()
    assert {f["properties"]["colour"] for f in data["features"]} <= set(RATE_COLOURS) | {HIDDEN_COLOUR}
    long_name = client.get(f"/analyses/{run_id}/rates?indicator={'x' * 5000}", headers=auth(tokens["analyst"]))
    assert long_name.status_code == 200 and len(long_name.text) < len(missing.text) + 200


def test_rates_map_page_says_when_no_population_is_known(client, tokens, store):
    from tests.spatial.bad_boundaries import KNA

    with KNA.open("rb") as handle:
        client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]), files={"file": ("kna.geojson", handle)},
                    data={"activate": "true"})
    rows = "id,latitude,longitude,date,category\n" + "".join(
        f"p{i},{17.29 + (i % 7) * 0.004},{-62.73 + (i // 7) * 0.004},2024-02-0{1 + i % 9} 10:00,Theft\n"
        for i in range(60))
    client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]), files={"file": ("p.csv", rows.encode())},
                data={"source": "p"})
    run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={"resolution": 8, "seed": 1}).json()
    page = client.get(f"/analyses/{run['id']}/rates", headers=auth(tokens["analyst"]))
    assert page.status_code == 200
    refused = BeautifulSoup(page.text, "html.parser").select_one(".refused").get_text()
    assert "No population is known" in refused
    rate_run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                           json={"resolution": 8, "seed": 1, "value": "rate"})
    assert rate_run.status_code in (400, 422) and "population" in rate_run.text


def test_a_shared_rate_run_publishes_classes_never_rates_or_residents(client, tokens, store):
    """Below analyst a rate run's cells show what any shared run's show: classes and counts of k or more."""
    from app.services.accounts import create_user_with_token
    from tests.spatial.bad_boundaries import KNA

    with KNA.open("rb") as handle:
        client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]), files={"file": ("kna.geojson", handle)},
                    data={"activate": "true"})
    names = [c["name"] for c in client.get("/api/v1/communities", headers=auth(tokens["gis"])).json()["communities"]]
    populations = "parish,population\n" + "".join(f"{name},{1000 + 500 * i}\n" for i, name in enumerate(names))
    assert client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]), data={"kind": "population"},
                       files={"file": ("p.csv", populations.encode())}).status_code == 201
    rows = "id,latitude,longitude,date,category\n" + "".join(
        f"s{i},{17.29 + (i % 7) * 0.004},{-62.73 + (i // 7) * 0.004},2024-02-0{1 + i % 9} 10:00,Theft\n"
        for i in range(60))
    client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]), files={"file": ("s.csv", rows.encode())},
                data={"source": "s"})
    queued = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                         json={"resolution": 8, "seed": 1, "audience": "shared", "value": "rate"})
    assert queued.status_code == 202, queued.text
    run_id = queued.json()["id"]
    police = _cells_csv(client, tokens["analyst"], run_id)
    assert any(r["smoothed_rate"] for r in police)
    partner = create_user_with_token(store, "rate-partner", "partner")
    for token in (tokens["viewer"], partner):
        shown = client.get(f"/api/v1/analyses/{run_id}/cells?format=csv", headers=auth(token))
        assert shown.status_code == 200, shown.text
        header = shown.text.splitlines()[0]
        assert "smoothed_rate" not in header and "residents" not in header and "gi_z" not in header
        page = client.get(f"/api/v1/analyses/{run_id}/cells", headers=auth(token)).json()
        assert all("smoothed_rate" not in f["properties"] and "residents" not in f["properties"]
                   for f in page["features"])
        rates_page = client.get(f"/analyses/{run_id}/rates", headers=auth(token))
        assert rates_page.status_code == 200 and "rates-data" in rates_page.text
