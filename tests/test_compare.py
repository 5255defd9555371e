"""Comparing two hot-spot runs: the JSON route, the page, the community page's link, the privacy tiers.

Two runs of the KNA parishes at resolution 8 on SYNTHETIC incidents: "Theft" has one planted cluster
(Basseterre), "Burglary" the same cluster and a second one (Sandy Point). Run A counts thefts, run B
burglaries, so Basseterre stays hot and Sandy Point becomes hot.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import h3
import numpy as np
import pytest

from app.errors import Unprocessable
from app.runs import Run
from app.services import run_pairs
from spatial.kinds.hotspot import GI_CLASSES
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _import_points, _partner, _random_background, _run
from tests.test_maps import outside_urls, parse

SANDY_POINT = (17.3597, -62.8437)


def _cluster(store, tmp_path, centre, category: str, source: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    _import_points(store, tmp_path, centre[0] + rng.normal(0, 0.003, 150), centre[1] + rng.normal(0, 0.003, 150),
                   source, category=category)


@pytest.fixture
def two_runs(client, store, tokens, tmp_path):
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=2, n=300, source="bg-theft")
    rng = np.random.default_rng(3)
    _import_points(store, tmp_path, rng.uniform(17.20, 17.40, 300), rng.uniform(-62.85, -62.65, 300), "bg-burglary",
                   category="Burglary")
    _cluster(store, tmp_path, BASSETERRE, "Theft", "theft-basseterre", 4)
    _cluster(store, tmp_path, BASSETERRE, "Burglary", "burglary-basseterre", 5)
    _cluster(store, tmp_path, SANDY_POINT, "Burglary", "burglary-sandy-point", 6)
    common = dict(resolution=8, permutations=199, seed=7, fdr=False, audience="shared")
    first = _run(client, tokens["analyst"], categories=["Theft"], **common)
    second = _run(client, tokens["analyst"], categories=["Burglary"], **common)
    assert first["status"] == second["status"] == "completed"
    return first["id"], second["id"]


def test_cells_that_stayed_and_became_hot_between_two_runs(client, tokens, two_runs):
    a, b = two_runs
    body = client.get("/api/v1/compare", params={"a": a, "b": b}, headers=auth(tokens["analyst"])).json()
    change = {c["cell"]: c["change"] for c in body["cells"]}
    assert change[h3.latlng_to_cell(*BASSETERRE, 8)] == "stayed_hot"
    assert change[h3.latlng_to_cell(*SANDY_POINT, 8)] == "became_hot"
    assert body["counts"] == {k: list(change.values()).count(k) for k in ("became_hot", "stayed_hot", "stopped_hot")}
    assert body["counts"]["became_hot"] >= 1 and body["counts"]["stayed_hot"] >= 1
    assert body["cells_compared"] > 100 and body["a"]["id"] == a and body["resolution"] == 8
    # the other way round, Sandy Point is no longer hot
    back = client.get("/api/v1/compare", params={"a": b, "b": a}, headers=auth(tokens["analyst"])).json()
    assert {c["cell"]: c["change"] for c in back["cells"]}[h3.latlng_to_cell(*SANDY_POINT, 8)] == "stopped_hot"


def test_below_analyst_only_published_classes_are_compared(client, tokens, two_runs, store):
    a, b = two_runs
    body = client.get("/api/v1/compare", params={"a": a, "b": b}, headers=auth(tokens["viewer"])).json()
    assert "Shared tier" in body["privacy"] and "incidents" not in str(body["cells"])
    # every change the viewer is shown follows from the published cells it may download itself
    published = {}
    for run in (a, b):
        cells = client.get(f"/api/v1/analyses/{run}/cells", params={"limit": 10000},
                           headers=auth(tokens["viewer"])).json()["features"]
        published[run] = {f["properties"]["cell"]: f["properties"]["gi_bin"] for f in cells}
    for cell in body["cells"]:
        hot = [published[run].get(cell["cell"], 0) >= 2 for run in (a, b)]
        assert {"stayed_hot": [True, True], "became_hot": [False, True],
                "stopped_hot": [True, False]}[cell["change"]] == hot


def test_different_resolutions_and_unknown_runs_are_refused_clearly(client, tokens, two_runs):
    a, _ = two_runs
    coarse = _run(client, tokens["analyst"], categories=["Theft"], resolution=7, permutations=0, seed=1)
    response = client.get("/api/v1/compare", params={"a": a, "b": coarse["id"]}, headers=auth(tokens["analyst"]))
    assert response.status_code == 422 and "different cell sizes" in response.json()["error"]["message"]
    page = client.get("/compare", params={"a": a, "b": coarse["id"]}, headers={**auth(tokens["analyst"]), **HTML})
    assert page.status_code == 422 and "different cell sizes" in page.text and "<html" in page.text
    assert client.get("/api/v1/compare", params={"a": a, "b": 999999},
                      headers=auth(tokens["analyst"])).status_code == 404
    assert client.get("/api/v1/compare", params={"a": a, "b": a},
                      headers=auth(tokens["analyst"])).status_code == 400
    # a police-only run is not there for a viewer, in the comparison as anywhere else
    private = _run(client, tokens["analyst"], categories=["Theft"], resolution=8, permutations=0, seed=1)
    assert client.get("/api/v1/compare", params={"a": a, "b": private["id"]},
                      headers=auth(tokens["viewer"])).status_code == 404


def test_compare_page_and_the_community_pages_link(client, tokens, two_runs, store):
    a, b = two_runs
    page = client.get("/compare", params={"a": a, "b": b}, headers=auth(tokens["viewer"]))
    assert page.status_code == 200 and "Became hot" in page.text and not outside_urls(page.text)
    assert {"map-a", "map-b", "map-change"} <= set(page.text.split('"'))
    community = next(c for c in client.get("/api/v1/communities", headers=auth(tokens["viewer"])).json()["communities"]
                     if c["name"] == "Saint George Basseterre")
    html = client.get(f"/communities/{community['id']}", headers=auth(tokens["viewer"])).text
    assert f"/compare?community={community['id']}" in parse(html).links
    latest = client.get("/compare", params={"community": community["id"]}, headers=auth(tokens["viewer"]))
    assert latest.status_code == 200 and f"#{a}" in latest.text and f"#{b}" in latest.text
    assert "in Saint George Basseterre" in latest.text


def test_the_community_page_offers_a_comparison_only_when_there_is_a_pair_to_compare(client, tokens, two_runs):
    analyst = auth(tokens["analyst"])
    community = next(c for c in client.get("/api/v1/communities", headers=analyst).json()["communities"]
                     if c["name"] == "Saint George Basseterre")
    url = f"/compare?community={community['id']}"
    # The newest run has larger cells than the two before it: no run it can be compared with.
    coarse = _run(client, tokens["analyst"], categories=["Theft"], resolution=7, permutations=0, seed=1)
    assert coarse["status"] == "completed", coarse
    assert url not in parse(client.get(f"/communities/{community['id']}", headers=analyst).text).links
    assert client.get(url, headers=analyst).status_code == 404
    # A second run with those cells makes a pair: the link comes back and leads to the comparison.
    _run(client, tokens["analyst"], categories=["Burglary"], resolution=7, permutations=0, seed=1)
    assert url in parse(client.get(f"/communities/{community['id']}", headers=analyst).text).links
    assert client.get(url, headers=analyst).status_code == 200


def test_a_partner_compares_only_its_communities(client, tokens, two_runs, store):
    a, b = two_runs
    partner = _partner(store, "basseterre-partner", ["Saint George Basseterre"])
    body = client.get("/api/v1/compare", params={"a": a, "b": b}, headers=auth(partner)).json()
    shown = {c["cell"] for c in body["cells"]}
    assert h3.latlng_to_cell(*BASSETERRE, 8) in shown
    assert h3.latlng_to_cell(*SANDY_POINT, 8) not in shown  # another community's hot spot
    police = client.get("/api/v1/compare", params={"a": a, "b": b}, headers=auth(tokens["analyst"])).json()
    assert body["cells_compared"] < police["cells_compared"]
    page = client.get("/compare", params={"a": a, "b": b}, headers=auth(partner))
    assert page.status_code == 200 and "Saint Anne Sandy Point" not in page.text


# --- what each run measured, in time order, with its differences (issue 18, review) ----------------

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _populations(client, tokens) -> None:
    names = [c["name"] for c in client.get("/api/v1/communities", headers=auth(tokens["gis"])).json()["communities"]]
    rows = "parish,population\n" + "".join(f"{name},{2000 + 100 * i}\n" for i, name in enumerate(names))  # made up
    assert client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]), data={"kind": "population"},
                       files={"file": ("p.csv", rows.encode())}).status_code == 201


@pytest.fixture
def rate_run(client, tokens, two_runs) -> dict:
    _populations(client, tokens)
    run = _run(client, tokens["analyst"], categories=["Theft"], resolution=8, seed=7, fdr=False, audience="shared",
               value="rate")
    assert run["status"] == "completed", run["error"]
    return run


def test_headings_say_what_was_measured_and_the_test_on_map_sheet_and_compare(client, tokens, two_runs, rate_run):
    a, b = two_runs
    volume = client.get(f"/maps/analyses/{a}", headers=auth(tokens["analyst"])).text
    assert f"Hot spots of volume, run {a}" in volume and "permutation test)" in volume
    risk = client.get(f"/maps/analyses/{rate_run['id']}", headers=auth(tokens["analyst"])).text
    assert f"Hot spots of risk, run {rate_run['id']}" in risk and "negative binomial test" in risk
    assert "Hot spots of volume" not in risk
    for run, measured, test in ((a, "volume", "permutation test"), (rate_run["id"], "risk", "negative binomial")):
        sheet = client.get(f"/print/analyses/{run}", headers=auth(tokens["viewer"]))
        assert sheet.status_code == 200
        assert f"<h1>Hot spots of {measured}, run {run}</h1>" in sheet.text
        assert f"<th>Confidence test</th><td>Each neighbourhood" in sheet.text and test in sheet.text
    page = client.get("/compare", params={"a": a, "b": b}, headers=auth(tokens["viewer"])).text
    assert "<h1>Compare hot spots of volume</h1>" in page and f"Before: Hot spots of volume, run #{a}" in page
    assert "Test: Each neighbourhood&#39;s incidents against" in page and "permutation test)" in page


def test_a_rate_run_and_a_run_of_counts_are_not_compared(client, tokens, two_runs, rate_run):
    a, _ = two_runs
    refused = client.get("/api/v1/compare", params={"a": a, "b": rate_run["id"]}, headers=auth(tokens["analyst"]))
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert f"Run {rate_run['id']} finds hot spots of risk" in message and f"run {a} hot spots of volume" in message
    page = client.get("/compare", params={"a": rate_run["id"], "b": a}, headers={**auth(tokens["analyst"]), **HTML})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "they answer different questions" in page.text.replace("\n", " ")


def test_the_pair_is_in_period_order_and_every_difference_is_named(client, tokens, two_runs):
    a, b = two_runs
    common = dict(resolution=8, permutations=99, seed=7, fdr=False, categories=["Theft"])
    later = _run(client, tokens["analyst"], start="2024-10-01", end="2025-01-01", audience="shared", **common)
    earlier = _run(client, tokens["analyst"], start="2024-01-01", end="2024-07-01", audience="police",
                   inference="analytic", **common)
    assert later["id"] < earlier["id"]
    body = client.get("/api/v1/compare", params={"a": later["id"], "b": earlier["id"]},
                      headers=auth(tokens["analyst"])).json()
    assert (body["a"]["id"], body["b"]["id"]) == (earlier["id"], later["id"])
    assert "asked for the other way round" in body["order"]
    assert [d.split(":")[0] for d in body["differences"]] == ["Period", "Shared with", "Confidence test"]
    period, shared, test = body["differences"]
    assert period == "Period: 2024-01-01 to 2024-06-30 (before) and 2024-10-01 to 2024-12-31 (after)."
    assert shared == "Shared with: police only (before) and partners (after)."
    assert test.startswith("Confidence test: Normal approximation of Gi*") and "permutation test) (after)" in test
    page = client.get("/compare", params={"a": later["id"], "b": earlier["id"]}, headers=auth(tokens["analyst"])).text
    assert page.index(f"Before: Hot spots of volume, run #{earlier['id']}") < page.index(
        f"After: Hot spots of volume, run #{later['id']}")
    differences = page[page.index('class="card differences"'):]
    for setting in ("Period", "Shared with", "Confidence test"):
        assert f"<strong>{setting}</strong>" in differences
    # the same categories, communities and cell size are not listed
    assert "<strong>Categories</strong>" not in differences and "<strong>Cell size</strong>" not in differences
    # two runs of all dates end together: the order asked for is kept, their one difference named
    same = client.get("/api/v1/compare", params={"a": b, "b": a}, headers=auth(tokens["analyst"])).json()
    assert (same["a"]["id"], same["b"]["id"]) == (b, a) and "other way round" not in same["order"]
    assert same["differences"] == ["Categories: Burglary (before) and Theft (after)."]
    # a resolution refusal names the differences too
    coarse = _run(client, tokens["analyst"], categories=["Theft"], resolution=7, permutations=0, seed=1)
    refused = client.get("/api/v1/compare", params={"a": a, "b": coarse["id"]}, headers=auth(tokens["analyst"]))
    assert refused.json()["error"]["details"]["differences"][0] == (
        "Cell size: H3 res 8 ≈ 0.74 km², about 920 m across (before) and H3 res 7 ≈ 5.2 km², about 2.4 km across "
        "(after).")


def _reason(response, number: int) -> str:
    """What a refusal says (the JSON message, or the page's alert), with the run or community number as N."""
    if response.headers["content-type"].startswith("application/json"):
        said = response.json()["error"]["message"]
    else:
        said = re.search(r'role="alert">(.*?)</p>', response.text, re.S).group(1)
    return re.sub(rf"\b{number}\b", "N", said)


def test_a_run_the_reader_may_not_see_answers_as_a_missing_run_before_any_other_check(client, tokens, two_runs,
                                                                                     store):
    a, b = two_runs
    partner = _partner(store, "sandy-point-partner", ["Saint Anne Sandy Point"])
    # police only, and at another resolution: were it checked first, it would be "different cell sizes"
    private = _run(client, tokens["analyst"], categories=["Theft"], resolution=7, permutations=0, seed=1)["id"]
    missing = 999_999
    for headers in (auth(partner), {**auth(partner), **HTML}):
        for url in ("/api/v1/compare?a={a}&b={x}", "/api/v1/compare?a={x}&b={x}", "/compare?a={x}&b={a}",
                    "/compare?a={x}&b={x}", "/print/analyses/{x}"):
            hidden = client.get(url.format(a=a, x=private), headers=headers)
            absent = client.get(url.format(a=a, x=missing), headers=headers)
            assert hidden.status_code == absent.status_code == 404, (url, hidden.text)
            assert hidden.headers["content-type"] == absent.headers["content-type"], url
            assert _reason(hidden, private) == _reason(absent, missing), url
            assert "There is no analysis run" in hidden.text
    # a community the partner may not see answers as one that does not exist (not "too few runs")
    basseterre = next(c["id"] for c in client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()[
        "communities"] if c["name"] == "Saint George Basseterre")
    for url in ("/compare?community={x}", "/print/communities/{x}", "/api/v1/compare?a={a}&b={b}&community={x}"):
        hidden = client.get(url.format(a=a, b=b, x=basseterre), headers={**auth(partner), **HTML})
        absent = client.get(url.format(a=a, b=b, x=missing), headers={**auth(partner), **HTML})
        assert hidden.status_code == absent.status_code == 404, (url, hidden.text)
        assert _reason(hidden, basseterre) == _reason(absent, missing), url


def test_compare_and_print_refusals_are_pages_for_browsers(client, tokens, two_runs):
    a, b = two_runs
    browser = {**auth(tokens["analyst"]), **HTML}
    for url, status, words in (("/print/analyses/999999", 404, "There is no analysis run 999999."),
                               ("/print/communities/999999", 404, "There is no community"),
                               ("/compare?a=999999&b=%d" % a, 404, "There is no analysis run 999999."),
                               ("/compare?a=%d&b=%d" % (a, a), 400, "Choose two different runs"),
                               ("/compare?a=abc&b=%d" % a, 422, "cannot be used"),
                               ("/compare?a=%d&b=99999999999999999999" % a, 422, "cannot be used"),
                               ("/print/analyses/99999999999999999999", 422, "cannot be used"),
                               ("/print/communities/99999999999999999999", 422, "cannot be used"),
                               ("/compare", 400, "Choose two runs to compare")):
        page = client.get(url, headers=browser)
        assert page.status_code == status and page.headers["content-type"].startswith("text/html"), (url, page.text)
        assert words in page.text and '{"error"' not in page.text, url
        assert "<h1>" in page.text and 'role="alert"' in page.text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    # a client that asks for JSON still gets the service's JSON refusal
    answer = client.get("/print/analyses/999999", headers={**auth(tokens["analyst"]), "Accept": "application/json"})
    assert answer.status_code == 404 and answer.json()["error"]["message"] == "There is no analysis run 999999."


def test_compare_maps_name_the_communities_and_the_towns_within_them(client, tokens, two_runs, store):
    a, b = two_runs
    partner = _partner(store, "sandy-point-reader", ["Saint Anne Sandy Point"])
    page = client.get("/compare", params={"a": a, "b": b}, headers=auth(partner)).text
    layers = json.loads(re.search(r'id="compare-layers" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert [f["properties"]["community"] for f in layers["outlines"]["features"]] == ["Saint Anne Sandy Point"]
    towns = {f["properties"]["name"] for f in layers["places"]["features"]}
    assert "Sandy Point Town" in towns and not towns & {"Basseterre", "Charlestown", "Newcastle"}
    assert "/static/app/map_labels.js" in parse(page).links
    police = client.get("/compare", params={"a": a, "b": b}, headers=auth(tokens["analyst"])).text
    everywhere = json.loads(re.search(r'id="compare-layers" type="application/json">(.*?)</script>', police,
                                      re.S).group(1))
    assert {"Basseterre", "Charlestown"} <= {f["properties"]["name"] for f in everywhere["places"]["features"]}


def _run_record(run_id: int, end: str | None, finished: str, **parameters) -> Run:
    return Run.from_row({"id": run_id, "kind": "hotspot", "status": "completed", "audience": "police",
                         "boundary_set_id": 1, "finished_at": datetime.fromisoformat(finished),
                         "parameters": {"resolution": 9, "end": end, **parameters}})


def test_a_pair_is_ordered_by_the_end_of_its_periods():
    dated = _run_record(5, "2025-01-01T00:00:00-04:00", "2025-06-01T10:00:00+00:00")
    all_dates = _run_record(3, None, "2025-03-01T10:00:00+00:00")  # its data end when it ran
    assert run_pairs.in_time_order(all_dates, dated) == (dated, all_dates)
    assert run_pairs.in_time_order(dated, all_dates) == (dated, all_dates)
    twin = _run_record(7, "2025-01-01T00:00:00-04:00", "2025-02-01T10:00:00+00:00")
    assert run_pairs.in_time_order(twin, dated) == (twin, dated)  # ending together: the order asked for
    rate = _run_record(8, "2025-01-01T00:00:00-04:00", "2025-02-01T10:00:00+00:00", value="rate")
    with pytest.raises(Unprocessable, match="hot spots of risk"):
        run_pairs.refuse_mixed_measures(dated, rate)
    scoped = run_pairs.differences(
        _run_record(1, None, "2025-02-01T10:00:00+00:00", communities=["Saint Anne Sandy Point", "Hidden"]),
        _run_record(2, None, "2025-02-01T10:00:00+00:00", communities=["Saint Anne Sandy Point"]),
        lambda name: name != "Hidden")
    assert scoped == []  # a partner is not told of a difference in communities it may not see


SWATCH = re.compile(r'<span class="swatch" style="background:(#[0-9a-f]{6})" '
                    r'data-colour-default="(#[0-9a-f]{6})" data-colour-safe="(#[0-9a-f]{6})"></span>')


def _sheet_map(html: str) -> dict:
    return json.loads(re.search(r'<script id="print-map-data" type="application/json">(.*?)</script>', html, re.S)[1])


def test_print_sheets_and_the_compare_page_in_colour_blind_safe_colours(client, tokens, two_runs):
    """?colours=safe prints a sheet in the colour-blind-safe colours (legend and cells); each page carries both
    palettes and the switch, so the choice made on the map page is followed; another value is refused in words."""
    a, b = two_runs
    viewer = auth(tokens["viewer"])
    significant = [c for c in GI_CLASSES if c.value != 0]
    community = next(c for c in client.get("/api/v1/communities", headers=viewer).json()["communities"]
                     if c["name"] == "Saint George Basseterre")
    for sheet in (f"/print/analyses/{a}", f"/print/communities/{community['id']}"):
        usual, safe = (client.get(sheet, params=params, headers=viewer) for params in ({}, {"colours": "safe"}))
        assert usual.status_code == safe.status_code == 200
        assert [m[0] for m in SWATCH.findall(usual.text)] == [c.colour for c in significant]
        assert [m[0] for m in SWATCH.findall(safe.text)] == [c.safe_colour for c in significant]
        assert SWATCH.findall(usual.text) == [(c.colour, c.colour, c.safe_colour) for c in significant]
        data = _sheet_map(safe.text)
        assert data["palette"] == "safe" and _sheet_map(usual.text)["palette"] == "default"
        assert data["palettes"]["safe"] == {str(c.value): c.safe_colour for c in significant}
        assert data["cells"]["features"], "the sheet should draw the run's hot cells"
        assert 'class="colour-choice"' in safe.text and "/static/app/colours.js" in safe.text
        refused = client.get(sheet, params={"colours": "pink"}, headers=viewer)
        assert refused.status_code == 400
        assert "colours=safe" in refused.json()["error"]["message"] and "pink" in refused.json()["error"]["message"]
    page = client.get("/compare", params={"a": a, "b": b}, headers=viewer)
    assert page.status_code == 200 and 'class="colour-choice"' in page.text
    assert [m[0] for m in SWATCH.findall(page.text)] == [c.colour for c in significant]
    layers = json.loads(re.search(r'<script id="compare-layers" type="application/json">(.*?)</script>',
                                  page.text, re.S)[1])
    assert layers["class_palettes"]["safe"] == {str(c.value): c.safe_colour for c in significant}
