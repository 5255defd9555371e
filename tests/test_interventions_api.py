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
