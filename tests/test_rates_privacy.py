"""Rates below analyst: worked out from published counts only, so no rate, smoothed rate or Moran's I
lets a partner solve a hidden count.

The world: the KNA parishes with made-up populations (round numbers, not census figures); 900
random thefts over St Kitts; 2 incidents in Charlestown (Nevis), under k = 5, so its count is
hidden from partners. The attack: change the hidden count (2 -> 4, still under k) in the stored
run; everything a partner is shown about rates must stay exactly the same, while the police
figures (whose Empirical Bayes prior includes every community) do move.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import h3
from bs4 import BeautifulSoup
from sqlalchemy import bindparam, text

from app.services.accounts import create_user_with_token
from models.types import JSONDocument
from spatial.grid import polygons_from_geojson
from spatial.rates.community import community_rates
from spatial.weights import polygon_neighbours
from tests.conftest import auth
from tests.test_analyses_api import _activate_parishes, _import_points, _partner, _random_background
from tests.spatial.bad_boundaries import KNA

K = 5
CHARLESTOWN = "Saint Paul Charlestown"


def _parishes() -> tuple[list[str], list]:
    polygons, properties = polygons_from_geojson(KNA)
    return [p["shapeName"] for p in properties], polygons


@pytest.fixture
def world(client, tokens, store, tmp_path) -> dict:
    _activate_parishes(client, tokens["gis"])
    names, polygons = _parishes()
    populations = {name: 1_000 * (i + 2) for i, name in enumerate(sorted(names))}  # made up
    content = "parish,population\n" + "".join(f"{n},{p}\n" for n, p in populations.items())
    uploaded = client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]),
                           files={"file": ("population.csv", content.encode())},
                           data={"kind": "population", "year": "2011", "source": "made up for the test"})
    assert uploaded.status_code == 201, uploaded.text
    factors = "parish,unemployment\n" + "".join(f"{n},{3 + i % 5}\n" for i, n in enumerate(sorted(names)))  # made up
    assert client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]), data={"kind": "indicator"},
                       files={"file": ("factors.csv", factors.encode())}).status_code == 201
    _random_background(store, tmp_path, seed=21, n=900)
    inside = polygons[names.index(CHARLESTOWN)].representative_point()
    _import_points(store, tmp_path, [inside.y, inside.y], [inside.x, inside.x], "charlestown")
    run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                      json={"resolution": 7, "permutations": 0, "seed": 1, "audience": "shared"})
    assert run.status_code == 202, run.text
    partner = create_user_with_token(store, "rates-partner", "partner")
    return {"run_id": run.json()["id"], "populations": populations, "partner": partner,
            "polygons": dict(zip(names, polygons))}


def _rates(client, token, run_id) -> dict:
    response = client.get(f"/api/v1/analyses/{run_id}/rates", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_partners_get_rates_from_published_counts_only(client, tokens, world):
    run_id = world["run_id"]
    police = {r["community"]: r for r in _rates(client, tokens["analyst"], run_id)["communities"]}
    assert police[CHARLESTOWN]["incidents"] == 2 and police[CHARLESTOWN]["rate"] is not None
    body = _rates(client, world["partner"], run_id)
    assert "published counts" in body["counted_from"]
    rows = {r["community"]: r for r in body["communities"]}
    hidden = {n for n, r in rows.items() if r["suppressed"]}
    assert CHARLESTOWN in hidden
    for name in hidden:
        assert all(rows[name][k] is None for k in ("incidents", "rate", "smoothed_rate", "spatial_smoothed_rate",
                                                   "expected_incidents"))
    shown = [n for n in rows if n not in hidden]
    assert len(shown) >= 4 and all(rows[n]["incidents"] >= K for n in shown)
    # The same published figure as the partner's ranking shows.
    ranking = client.get(f"/api/v1/analyses/{run_id}/neighbourhoods", headers=auth(world["partner"])).json()
    assert {n["community"]: n["incidents"] for n in ranking["neighbourhoods"] if n["community"] in shown} == \
        {n: rows[n]["incidents"] for n in shown}
    # Recomputed here from the shown communities alone: the prior and the neighbourhoods leave the hidden out.
    expected = community_rates([rows[n]["incidents"] for n in shown], [world["populations"][n] for n in shown],
                               per=1000, graph=polygon_neighbours([world["polygons"][n] for n in shown]))
    np.testing.assert_allclose([rows[n]["smoothed_rate"] for n in shown], expected.smoothed, atol=5e-4)
    np.testing.assert_allclose([rows[n]["spatial_smoothed_rate"] for n in shown], expected.spatial_smoothed, atol=5e-4)
    assert body["rate_moran"] is None or body["rate_moran"]["communities"] == len(shown)


def _change_hidden_count(store, run_id: int, community: str, point, by: int) -> None:
    """What the attacker cannot see: the hidden community's stored count (its incidents' cell and its
    total), moved while staying under k."""
    community_id = store.session.execute(text(
        "SELECT c.id FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id "
        "WHERE s.is_active AND c.name = :name"), {"name": community}).scalar_one()
    changed = store.session.execute(text(
        "UPDATE hotspot_cells SET incidents = incidents + :by WHERE run_id = :run AND cell = :cell "
        "AND incidents + :by < :k"), {"by": by, "run": run_id, "k": K,
                                      "cell": h3.str_to_int(h3.latlng_to_cell(point.y, point.x, 7))})
    assert changed.rowcount == 1
    provenance = store.session.execute(text("SELECT provenance FROM hotspot_runs WHERE id = :id"),
                                       {"id": run_id}).scalar_one()
    provenance["incidents_by_community"][str(community_id)] += by
    store.session.execute(text("UPDATE hotspot_runs SET provenance = :p WHERE id = :id").bindparams(
        bindparam("p", type_=JSONDocument)), {"p": provenance, "id": run_id})
    store.session.commit()


def test_a_hidden_count_cannot_be_solved_from_rates(client, tokens, store, world):
    run_id, partner = world["run_id"], world["partner"]
    def everything() -> list[dict]:
        return [_rates(client, partner, run_id),
                client.get(f"/api/v1/analyses/{run_id}/neighbourhoods", headers=auth(partner),
                           params={"order": "smoothed_rate"}).json(),
                client.get(f"/api/v1/analyses/{run_id}/factors", headers=auth(partner),
                           params={"indicator": "unemployment"}).json()]

    before = everything()
    assert CHARLESTOWN in before[2]["left_out"] and before[2]["association_not_cause"]
    police_before = _rates(client, tokens["analyst"], run_id)
    _change_hidden_count(store, run_id, CHARLESTOWN, world["polygons"][CHARLESTOWN].representative_point(), by=2)
    after = everything()
    police_after = _rates(client, tokens["analyst"], run_id)
    # Every figure a partner sees is the same whether the hidden count is 2 or 4: nothing to solve from.
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    # The test can fail: the police figures, whose prior holds every community, do move, also elsewhere.
    moved = {r["community"] for r, s in zip(police_before["communities"], police_after["communities"])
             if r["smoothed_rate"] != s["smoothed_rate"]}
    assert CHARLESTOWN in moved and len(moved) > 1


def test_a_scoped_partner_sees_its_own_communities_and_too_few_for_moran(client, store, world):
    scope = ["Saint George Basseterre", "Saint Peter Basseterre", "Saint Thomas Middle Island"]
    token = _partner(store, "rates-scoped", scope)
    body = _rates(client, token, world["run_id"])
    assert sorted(r["community"] for r in body["communities"]) == sorted(scope)
    assert body["rate_moran"] is None and "Too few communities" in body["rate_moran_says"]


def test_partner_community_page_shows_published_rates_and_hides_the_rest(client, store, world):
    body = {r["community"]: r for r in _rates(client, world["partner"], world["run_id"])["communities"]}
    ids = dict(store.session.execute(text(
        "SELECT c.name, c.id FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active")).all())
    shown = next(n for n, r in body.items() if not r["suppressed"])
    page = BeautifulSoup(client.get(f"/communities/{ids[shown]}", headers=auth(world["partner"])).text, "html.parser")
    assert float(page.select_one(".smoothed-rate").get_text(strip=True)) == body[shown]["smoothed_rate"]
    assert "made up for the test" in page.select_one(".population-source").get_text()
    assert "published counts" in page.select_one(".rates").get_text()
    hidden = BeautifulSoup(client.get(f"/communities/{ids[CHARLESTOWN]}", headers=auth(world["partner"])).text,
                           "html.parser")
    assert hidden.select_one(".raw-rate").get_text(strip=True) == "–"
    assert hidden.select_one(".smoothed-rate").get_text(strip=True) == "–"
    assert "privacy threshold" in hidden.select_one(".rates").get_text()
