"""A refusal answers a browser asking for a page with an HTML page in the same words; programs get JSON.

A planner following a stale link (a run not shared with them, a community since replaced) sees a page that
says what happened, under the pages' Content-Security-Policy, not a raw JSON body; the API, tiles and OGC
documents asked for as JSON keep their JSON errors whatever the Accept header says.
"""

from __future__ import annotations

from app.services.accounts import create_user_with_token
from tests.conftest import auth
from tests.test_maps import outside_urls

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _page(client, path, token):
    return client.get(path, headers={**auth(token), "Accept": BROWSER})


def test_a_missing_community_is_an_html_page_for_a_browser_and_json_for_a_program(client, tokens):
    # a program that accepts anything (curl) gets the JSON body
    assert client.get("/communities/987654", headers=auth(tokens["viewer"])).json()["error"]["message"]
    page = _page(client, "/communities/987654", tokens["viewer"])
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text and "community" in page.text.lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert outside_urls(page.text) == set()
    program = client.get("/communities/987654", headers={**auth(tokens["viewer"]), "Accept": "application/json"})
    assert program.status_code == 404 and program.json()["error"]["message"] == \
        page.text.split('<p class="error" role="alert">')[1].split("</p>")[0].replace("&#39;", "'")


def test_a_page_refused_to_a_role_says_so_in_a_page(client, store):
    partner = create_user_with_token(store, "error-page-partner", "partner")
    page = _page(client, "/analyses/new", partner)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in page.text


def test_a_bad_parameter_on_a_page_lists_the_problem(client, tokens):
    page = _page(client, "/communities/not-a-number", tokens["viewer"])
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Some values cannot be used</h1>" in page.text and "community_id" in page.text


def test_the_api_tiles_and_ogc_json_keep_json_errors_for_a_browser(client, tokens):
    for path in ("/api/v1/analyses/987654", "/tiles/hotspots/8/0/0.mvt?run=987654",
                 "/ogc/collections/nothing-here?f=json"):
        answer = _page(client, path, tokens["analyst"])
        assert answer.status_code in (404, 422), (path, answer.status_code)
        assert answer.headers["content-type"].startswith("application/json"), path
        assert "message" in answer.json()["error"]


def test_an_ogc_page_asked_for_by_a_browser_is_refused_in_a_page(client, tokens):
    page = _page(client, "/ogc/collections/nothing-here", tokens["analyst"])
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text


def test_a_pages_refusal_varies_with_accept_and_is_not_cached_shared(client, tokens):
    for accept in (BROWSER, "application/json"):
        answer = client.get("/communities/987654", headers={**auth(tokens["viewer"]), "Accept": accept})
        assert answer.status_code == 404
        assert "Accept" in [v.strip() for v in answer.headers["vary"].split(",")]
        assert answer.headers["cache-control"].startswith("private")
