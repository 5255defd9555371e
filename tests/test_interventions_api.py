"""Interventions over HTTP on PostGIS: recorded and deleted by analysts (audited), refused in words,
and read by a partner through the restricted database role (shared ones only, the published
evaluation only)."""

from __future__ import annotations

import html

import pytest

from app.services.accounts import create_user_with_token
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA


@pytest.fixture
def island(client, store, tokens):
    """The parishes, 60 thefts in February 2024, and a partner's token."""
    with KNA.open("rb") as handle:
        assert client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]), files={"file": ("kna.geojson", handle)},
                           data={"activate": "true"}).status_code == 201
    rows = "id,latitude,longitude,date,category\n" + "".join(
        f"i{i},{17.29 + (i % 7) * 0.004},{-62.73 + (i // 7) * 0.004},2024-02-{1 + i % 20:02d} 10:00,Theft\n"
        for i in range(60))
    assert client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                       files={"file": ("i.csv", rows.encode())}, data={"source": "api"}).status_code == 201
    communities = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"]
    return {**tokens, "partner": create_user_with_token(store, "iv-partner", "partner"),
            "community": max(communities, key=lambda c: c["incidents"] or 0)}


def _post(client, token, **body):
    return client.post("/api/v1/interventions", headers=auth(token),
                       json={"name": "Night patrols", "starts_on": "2024-02-11", "ends_on": "2024-02-20", **body})


def test_analyst_records_partner_reads_the_shared_one(client, island):
    analyst, partner = auth(island["analyst"]), auth(island["partner"])
    community = island["community"]
    shared = _post(client, island["analyst"], target_communities=[community["id"]], shared=True, partner="Youth club")
    assert shared.status_code == 201, shared.text
    private = _post(client, island["analyst"], target_geometry={"type": "Polygon", "coordinates": [
        [[-62.735, 17.285], [-62.70, 17.285], [-62.70, 17.32], [-62.735, 17.32], [-62.735, 17.285]]]})
    assert private.status_code == 201, private.text
    assert private.json()["communities"]  # the communities the polygon lies in
    listed = client.get("/api/v1/interventions", headers=partner).json()["interventions"]
    assert [i["id"] for i in listed] == [shared.json()["id"]] and "created_by" not in listed[0]
    assert client.get(f"/api/v1/interventions/{private.json()['id']}", headers=partner).status_code == 404
    by_community = client.get("/api/v1/interventions", headers=analyst, params={"community": community["name"]})
    # the polygon lies in that community too
    assert [i["id"] for i in by_community.json()["interventions"]] == [private.json()["id"], shared.json()["id"]]
    assert community["name"] in private.json()["communities"]

    url = f"/api/v1/interventions/{shared.json()['id']}/evaluation"
    waiting = client.get(url, headers=partner)
    assert waiting.status_code == 409 and "not been evaluated yet" in waiting.json()["error"]["message"]
    police = client.get(url, headers=analyst)
    assert police.status_code == 200, police.text
    assert police.json()["status"] == "evaluated" and police.json()["counts"]["target"]["after"] > 0
    published = client.get(url, headers=partner)  # as the restricted role: the kept published copy
    assert published.status_code == 200, published.text
    body = published.json()
    assert "evaluation" not in body and body["published_min_count"] == 5
    for area in body["counts"].values():
        assert area is None or all(n is None or n >= 5 for n in area.values())
    # a change is published only beside the four counts it is made from, none hidden
    shown_counts = [n for area in ("target", "comparison") for n in body["counts"][area].values()]
    assert body["target_change"] is None or None not in shown_counts
    assert body["displacement"] is None or None not in body["counts"]["buffer"].values()
    # the community's brief lists it with the sentence each reader may see (never computed there)
    for headers, sentence in ((partner, body["sentence"]), (analyst, police.json()["sentence"])):
        brief = client.get(f"/communities/{community['id']}/brief", headers=headers)
        assert brief.status_code == 200, brief.text
        assert "Night patrols (2024-02-11 to 2024-02-20)" in brief.text and sentence in html.unescape(brief.text)
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=auth(island["admin"])).json()["entries"]]
    assert {"interventions.create", "interventions.evaluate"} <= set(actions)

    assert client.delete(f"/api/v1/interventions/{shared.json()['id']}", headers=analyst).status_code == 204
    assert client.get(url, headers=analyst).status_code == 404
    assert client.delete(f"/api/v1/interventions/{shared.json()['id']}", headers=analyst).status_code == 404


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"target_communities": [10**12]}, 400, "not a community of the active boundary set"),
    ({"target_communities": ["x"]}, 422, "not valid"),
    ({"ends_on": "2024-01-01", "target_communities": []}, 400, "before the start date"),
    ({"target_geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}, 400, "cannot be read"),
    ({"target_geometry": {"type": "Polygon", "coordinates": [[[-61, 16], [-60.9, 16], [-60.9, 16.1], [-61, 16]]]}},
     400, "outside every community"),
    ({"target_communities": [1], "surprise": 1}, 422, "not valid"),
])
def test_bad_interventions_are_refused_in_words(client, island, body, status, words):
    response = _post(client, island["analyst"], **body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"] or words in str(response.json()["error"].get("details"))
    assert client.get("/api/v1/interventions", headers=auth(island["analyst"])).json()["interventions"] == []


def test_restricted_role_reads_shared_interventions_only_and_never_the_police_evaluation(client, island, session):
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from app.store.backends import POSTGIS

    ids = {shared: _post(client, island["analyst"], target_communities=[island["community"]["id"]],
                         shared=shared).json()["id"] for shared in (True, False)}
    database = POSTGIS.bind(session).database
    database.restrict()
    try:
        seen = session.execute(text("SELECT id FROM interventions")).scalars().all()
        assert seen == [ids[True]]  # row-level security: shared ones only
        for column in ("evaluation", "created_by"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with session.begin_nested():
                    session.execute(text(f"SELECT {column} FROM interventions"))
    finally:
        session.rollback()
        database.unrestrict()


def test_the_list_comes_a_page_at_a_time_and_refuses_an_unknown_community(client, island):
    analyst, partner = auth(island["analyst"]), auth(island["partner"])
    ids = [_post(client, island["analyst"], target_communities=[island["community"]["id"]],
                 shared=i % 2 == 0, name=f"Patrols {i}").json()["id"] for i in range(5)]
    first = client.get("/api/v1/interventions", headers=analyst, params={"limit": 2}).json()
    assert [i["id"] for i in first["interventions"]] == ids[::-1][:2] and first["next_before"] == ids[3]
    second = client.get("/api/v1/interventions", headers=analyst,
                        params={"limit": 2, "before": first["next_before"]}).json()
    assert [i["id"] for i in second["interventions"]] == ids[::-1][2:4]
    last = client.get("/api/v1/interventions", headers=analyst, params={"limit": 2, "before": ids[1]}).json()
    assert [i["id"] for i in last["interventions"]] == [ids[0]] and last["next_before"] is None
    # a partner's page is filled with the shared ones only, however many private ones lie between
    shared = client.get("/api/v1/interventions", headers=partner, params={"limit": 2}).json()
    assert [i["id"] for i in shared["interventions"]] == [ids[4], ids[2]] and shared["next_before"] == ids[2]
    for params in ({"limit": 0}, {"limit": 201}, {"before": "x"}):
        assert client.get("/api/v1/interventions", headers=analyst, params=params).status_code == 422
    unknown = client.get("/api/v1/interventions", headers=analyst, params={"community": "Atlantis"})
    assert unknown.status_code == 400 and "no community called 'Atlantis'" in unknown.json()["error"]["message"]


def test_dates_that_cannot_be_evaluated_are_refused_when_recorded(client, island):
    community = [island["community"]["id"]]
    for body, words in (({"starts_on": "0001-01-01", "ends_on": "0001-03-01"}, "Dates must be between 1900-01-01"),
                        ({"starts_on": "1990-01-01", "ends_on": "2024-01-01"}, "at most 3,653"),
                        ({"starts_on": "2024-13-01"}, "not valid"), ({"starts_on": "1 March"}, "not valid")):
        response = _post(client, island["analyst"], target_communities=community, **body)
        assert response.status_code in (400, 422), response.text
        error = response.json()["error"]
        assert words in error["message"] or words in str(error.get("details"))


def test_pages_answer_a_browser_in_html(client, island):
    browser = {**auth(island["analyst"]), "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    missing = client.get("/interventions/999999", headers=browser)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "There is no intervention 999999." in missing.text and "<h1>Not found</h1>" in missing.text
    bad = client.get("/interventions/abc", headers=browser)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "cannot be used" in bad.text and "intervention_id" in bad.text
    listed = client.get("/interventions", headers=browser, params={"before": "x"})
    assert listed.status_code == 422 and listed.headers["content-type"].startswith("text/html")
    # the API keeps answering JSON, whatever the browser asks
    api = client.get("/api/v1/interventions/999999", headers=browser)
    assert api.status_code == 404 and api.json()["error"]["message"] == "There is no intervention 999999."


def test_hidden_counts_are_marked_with_the_k_they_were_hidden_under(client, island, store):
    # a copy kept under a stricter k (7) than today's (5), as after the setting was lowered: its hidden
    # counts are "fewer than 7", which "<5" would misstate (a hidden 6 is not under 5)
    from datetime import UTC, datetime

    shared = _post(client, island["analyst"], target_communities=[island["community"]["id"]], shared=True).json()
    assert client.get(f"/api/v1/interventions/{shared['id']}/evaluation",
                      headers=auth(island["analyst"])).status_code == 200
    row = store.interventions.get_intervention(shared["id"])
    kept = row["published_evaluation"]
    assert kept["status"] == "evaluated"
    kept["counts"]["target"]["before"] = None
    store.interventions.record_evaluation(shared["id"], row["evaluation"], {**kept, "published_min_count": 7},
                                          datetime.now(UTC))
    store.session.commit()
    page = client.get(f"/interventions/{shared['id']}", headers=auth(island["partner"]))
    assert page.status_code == 200, page.text
    assert "&lt;7" in page.text and "Counts under 7 are" in page.text
    assert "&lt;5" not in page.text and "Counts under 5" not in page.text


def _scoped_partner(store, island, name: str = "iv-scoped") -> dict[str, str]:
    """A partner limited to the island's busiest community."""
    from tests.test_analyses_api import _partner

    return auth(_partner(store, name, [island["community"]["name"]]))


def test_a_scoped_partner_cannot_solve_the_withheld_comparison_counts(client, island, store):
    # the kept copy of an evaluation whose counts are small enough that a 4-decimal ratio, or even a
    # whole-percent interval, would pin the two withheld comparison counts down
    from datetime import UTC, datetime

    from app.services.intervention_evaluation import _rounded
    from spatial.outcomes.intervention import AreaCounts, evaluate_intervention, relative_change

    shared = _post(client, island["analyst"], target_communities=[island["community"]["id"]], shared=True).json()
    url = f"/api/v1/interventions/{shared['id']}/evaluation"
    assert client.get(url, headers=auth(island["analyst"])).status_code == 200
    row = store.interventions.get_intervention(shared["id"])
    target = AreaCounts(20, 12)
    result = evaluate_intervention(target, AreaCounts(15, 14), AreaCounts(9, 11)).as_dict()
    kept = {**row["published_evaluation"], "status": "evaluated", "counts": result["counts"],
            "sentence": result["sentence"], **{key: _rounded(result[key]) for key in
                                               ("target_change", "buffer_change", "displacement")}}
    store.interventions.record_evaluation(shared["id"], row["evaluation"], kept, datetime.now(UTC))
    store.session.commit()

    view = client.get(url, headers=_scoped_partner(store, island))
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["counts"]["comparison"] is None and body["counts"]["buffer"] is None
    assert body["counts"]["target"] == {"before": 20, "after": 12}
    for change in (body["target_change"], body["buffer_change"]):
        assert {k: change[k] for k in ("ratio", "interval", "p_value", "detectable_fall_percent", "dispersion")} == \
            dict.fromkeys(("ratio", "interval", "p_value", "detectable_fall_percent", "dispersion"))
        assert isinstance(change["change_percent"], int)
    assert body["displacement"]["quotient"] is None and body["displacement"]["quotient_shown"] is None
    assert "CI" not in body["sentence"] and "%" in body["sentence"] and "quotient" not in body["sentence"]

    def consistent(before: int, after: int) -> bool:
        figures = relative_change(target, AreaCounts(before, after)).as_dict()
        shown = body["target_change"]
        for key in ("ratio", "p_value", "detectable_fall_percent"):
            if shown[key] is not None and round(figures[key], 4) != shown[key]:
                return False
        if shown["interval"] is not None and [round(v, 4) for v in figures["interval"]] != shown["interval"]:
            return False
        digits = 0 if isinstance(shown["change_percent"], int) else 4
        return round(figures["change_percent"], digits) == shown["change_percent"] and figures["found"] == shown["found"]

    candidates = [(b, a) for b in range(5, 120) for a in range(5, 120) if consistent(b, a)]
    assert (15, 14) in candidates and len(candidates) > 1, candidates


def test_the_community_filter_does_not_tell_a_partner_which_communities_exist(client, island, store):
    from datetime import date

    partner = _scoped_partner(store, island)
    names = [c["name"] for c in client.get("/api/v1/communities", headers=auth(island["analyst"])).json()["communities"]]
    outside = next(n for n in names if n != island["community"]["name"])
    answers = {name: client.get("/api/v1/interventions", headers=partner, params={"community": name})
               for name in (outside, "Atlantis")}
    for name, answer in answers.items():
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"] == (f"There is no community called {name!r} in the active boundary "
                                                     "set. GET /api/v1/communities lists their names.")
    assert client.get("/api/v1/interventions", headers=partner,
                      params={"community": island["community"]["name"]}).status_code == 200
    # a name an intervention carries from an older boundary set is a filter, not an error
    old = store.interventions.create_intervention(
        name="Old patrols", partner=None, target_communities=None,
        target_geometry={"type": "Polygon", "coordinates": [[[-62.73, 17.29], [-62.72, 17.29], [-62.72, 17.30],
                                                             [-62.73, 17.29]]]},
        communities=["Old Road Parish"], resolution=9, buffer_rings=1, comparison_communities=None,
        starts_on=date(2024, 2, 11), ends_on=date(2024, 2, 20), shared=True, user_id=None)
    store.session.commit()
    listed = client.get("/api/v1/interventions", headers=auth(island["analyst"]), params={"community": "Old Road Parish"})
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["interventions"]] == [old]


def test_a_partners_brief_says_why_an_evaluation_is_not_shown(client, island, store):
    from bs4 import BeautifulSoup

    communities = client.get("/api/v1/communities", headers=auth(island["analyst"])).json()["communities"]
    other = next(c for c in communities if c["id"] != island["community"]["id"])
    shared = _post(client, island["analyst"], target_communities=[island["community"]["id"], other["id"]],
                   shared=True, name="Joint patrols").json()
    assert client.get(f"/api/v1/interventions/{shared['id']}/evaluation",
                      headers=auth(island["analyst"])).status_code == 200
    brief = client.get(f"/communities/{island['community']['id']}/brief", headers=_scoped_partner(store, island))
    assert brief.status_code == 200, brief.text
    items = [li.get_text(" ", strip=True) for li in BeautifulSoup(brief.text, "html.parser").select(".interventions li")]
    [item] = [i for i in items if "Joint patrols" in i]
    assert "Its evaluation covers other communities too and is not shown in this brief." in item
    assert "not evaluated yet" not in item
