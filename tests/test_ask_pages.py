"""The "New analysis" form, the run list and a run's page, server side (the browser test drives them in Chromium).

St Kitts and Nevis parishes (14, on two islands), a few hundred incidents in 2024; runs go
through the API as the form's script sends them.
"""

from __future__ import annotations

import re

import pytest

from app.services.accounts import create_user_with_token
from tests.conftest import auth
from tests.test_analyses_api import _activate_parishes, _random_background
from tests.test_maps import outside_urls, parse


@pytest.fixture
def world(client, store, tokens, tmp_path):
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=7, n=300)
    ok = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                     json={"resolution": 8, "permutations": 9, "seed": 1, "start": "2024-01-01", "end": "2024-07-01"})
    # Nothing recorded in 2023: the run fails with a planner-facing reason.
    failed = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                         json={"resolution": 8, "permutations": 9, "seed": 1, "start": "2023-03-01",
                               "end": "2023-04-01", "categories": ["theft"],
                               "communities": ["Saint George Basseterre", "Saint Paul Charlestown"]})
    shared = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                         json={"resolution": 8, "permutations": 9, "seed": 1, "audience": "shared"})
    assert ok.status_code == failed.status_code == shared.status_code == 202, shared.text
    return {"ok": ok.json()["id"], "failed": failed.json()["id"], "shared": shared.json()["id"],
            "partner": create_user_with_token(store, "ask-partner", "partner")}


def test_form_offers_communities_by_island_categories_and_cell_sizes(client, tokens, world):
    response = client.get("/analyses/new", headers=auth(tokens["analyst"]))
    assert response.status_code == 200 and outside_urls(response.text) == set()
    html = response.text
    islands = re.findall(r"<legend>(Island \d) \((\d+) communities\)</legend>", html)
    assert islands == [("Island 1", "9"), ("Island 2", "5")]  # St Kitts, then Nevis
    nevis = html[html.index("Island 2 (5"):]
    assert "Saint Paul Charlestown" in nevis and "Saint George Basseterre" not in nevis
    assert 'value="Theft"' in html  # categories from the data
    assert "res 9 ≈ 0.11 km², about 350 m across" in html
    assert "Last day (included)" in html and 'id="community-outlines"' in html
    assert "/static/app/ask.js" in parse(html).links
    assert client.get("/static/app/ask.js").status_code == 200
    for role in ("viewer", "partner"):
        token = world["partner"] if role == "partner" else tokens[role]
        assert client.get("/analyses/new", headers=auth(token)).status_code == 403


def test_run_again_fills_the_form_with_the_last_day_included(client, tokens, world):
    html = client.get(f"/analyses/new?from_run={world['failed']}", headers=auth(tokens["analyst"])).text
    assert 'id="first-day" name="first" value="2023-03-01"' in html
    assert 'id="last-day" name="last" value="2023-03-31"' in html  # stored end 2023-04-01 is exclusive
    assert re.search(r'value="Saint Paul Charlestown" checked', html)
    assert re.search(r'value="Theft" checked', html)


@pytest.mark.parametrize(("body", "field"), [
    ({"start": "2024-05-01T00:00:00", "end": "2024-04-01T00:00:00"}, "end"),
    ({"audience": "shared", "resolution": 8, "start": "2024-01-03T00:00:00", "end": "2024-02-01T00:00:00"}, "period"),
    ({"categories": ["no such thing"]}, "categories"),
    ({"communities": ["Atlantis"]}, "communities"),
    ({"audience": "shared", "resolution": 10, "start": "2024-01-01", "end": "2024-02-01"}, "resolution"),
])
def test_refusals_name_the_field_the_form_shows_them_beside(client, tokens, world, body, field):
    response = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={"resolution": 8, **body})
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    named = (error["details"][0]["where"].split(".")[-1] if isinstance(error["details"], list)
             else error["details"]["field"])
    assert named == field, error


def test_failed_run_page_explains_and_offers_to_run_again(client, tokens, world):
    run_id = world["failed"]
    page = client.get(f"/analyses/{run_id}", headers=auth(tokens["analyst"]))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "This run failed" in page.text and "No incidents fall in the cells analysed" in page.text
    assert "Choose a longer period" in page.text
    assert f"/analyses/new?from_run={run_id}" in parse(page.text).links
    assert "2023-03-01 to 2023-03-31" in page.text and "Run by" in page.text and "test-analyst" in page.text
    # The map address of a failed run sends a browser to this page instead of answering JSON.
    map_answer = client.get(f"/maps/analyses/{run_id}", headers=auth(tokens["analyst"]), follow_redirects=False)
    assert map_answer.status_code == 303 and map_answer.headers["location"] == f"/analyses/{run_id}"


def test_run_list_filters_and_says_who_ran_each_run_to_police_only(client, tokens, world):
    answer = client.get("/analyses", headers=auth(tokens["analyst"]))
    assert answer.status_code == 200
    everything = answer.text
    assert f"/analyses/{world['failed']}" in parse(everything).links
    assert f"/maps/analyses/{world['ok']}" in parse(everything).links
    assert "test-analyst" in everything and "Run by" in everything
    failed_only = parse(client.get("/analyses?status=failed", headers=auth(tokens["analyst"])).text).links
    assert f"/analyses/{world['failed']}" in failed_only and f"/analyses/{world['ok']}" not in failed_only
    # Runs of Nevis's Charlestown: the failed run named it, the completed run covers every community.
    charlestown = parse(client.get("/analyses?community=Saint+Paul+Charlestown",
                                   headers=auth(tokens["analyst"])).text).links
    assert f"/analyses/{world['failed']}" in charlestown and f"/analyses/{world['ok']}" in charlestown
    sandy_point = parse(client.get("/analyses?community=Saint+Anne+Sandy+Point",
                                   headers=auth(tokens["analyst"])).text).links
    assert f"/analyses/{world['failed']}" not in sandy_point
    shared = parse(client.get("/analyses?audience=shared", headers=auth(tokens["analyst"])).text).links
    assert f"/analyses/{world['shared']}" in shared and f"/analyses/{world['ok']}" not in shared
    nothing = client.get("/analyses?audience=shared&status=failed", headers=auth(tokens["analyst"])).text
    assert "No run matches these filters" in nothing
    bad = client.get("/analyses?status=exploded", headers=auth(tokens["analyst"]))
    assert bad.status_code == 400 and "The status filter must be one of" in bad.text
    # Partners see only shared runs, and never who ran them.
    partner_answer = client.get("/analyses", headers=auth(world["partner"]))
    assert partner_answer.status_code == 200
    partner = partner_answer.text
    assert "test-analyst" not in partner and "Run by" not in partner
    assert f"/analyses/{world['ok']}" not in parse(partner).links
    assert f"/analyses/{world['shared']}" in parse(partner).links
    assert client.get(f"/analyses/{world['ok']}", headers=auth(world["partner"])).status_code == 404
    shared_page = client.get(f"/analyses/{world['shared']}", headers=auth(world["partner"]))
    assert shared_page.status_code == 200 and "Run by" not in shared_page.text and "Run again" not in shared_page.text


def test_a_scoped_partner_sees_only_its_communities_named_in_run_lists(client, tokens, store, world):
    from tests.test_analyses_api import _partner

    named = ["Saint George Basseterre", "Saint Mary Cayon", "Saint Paul Charlestown", "Saint Anne Sandy Point"]
    answer = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={
        "resolution": 8, "permutations": 9, "seed": 1, "audience": "shared", "communities": named})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    partner = auth(_partner(store, "cayon-only", ["Saint Mary Cayon"]))
    for url in ("/", "/analyses", f"/analyses/{run_id}"):
        page = client.get(url, headers=partner)
        assert page.status_code == 200, url
        assert any(link.endswith(f"/analyses/{run_id}") for link in parse(page.text).links) or url.endswith(f"/{run_id}")
        assert "Saint Mary Cayon" in page.text, url
        for other in ("Saint George Basseterre", "Saint Paul Charlestown", "Saint Anne Sandy Point"):
            assert other not in page.text, (url, other)
    # Police see every community the run names.
    police = client.get(f"/analyses/{run_id}", headers=auth(tokens["analyst"])).text
    assert all(name in police for name in named)


def test_run_list_pages_on(client, tokens, world, monkeypatch):
    from app.services import ask

    monkeypatch.setattr(ask, "RUNS_PER_PAGE", 1)
    first = client.get("/analyses", headers=auth(tokens["analyst"])).text
    older = [link for link in parse(first).links if "before=" in link]
    assert older == [f"?status=&kind=&community=&audience=&before={world['shared']}"]
    second = parse(client.get("/analyses" + older[0], headers=auth(tokens["analyst"])).text).links
    assert f"/analyses/{world['failed']}" in second and f"/analyses/{world['shared']}" not in second
