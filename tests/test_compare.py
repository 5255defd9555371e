"""Comparing two hot-spot runs: the JSON route, the page, the community page's link, the privacy tiers.

Two runs of the KNA parishes at resolution 8 on SYNTHETIC incidents: "Theft" has one planted cluster
(Basseterre), "Burglary" the same cluster and a second one (Sandy Point). Run A counts thefts, run B
burglaries, so Basseterre stays hot and Sandy Point becomes hot.
"""

from __future__ import annotations

import json
import re

import h3
import numpy as np
import pytest

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
    page = client.get("/compare", params={"a": a, "b": coarse["id"]}, headers=auth(tokens["analyst"]))
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
