"""Hotspot runs end to end through the API, on the St Kitts and Nevis parishes.

Weights: H3 k-ring k=1 at resolution 9; seeds are given in each request.
"""

from __future__ import annotations

import csv
import io

import h3
import numpy as np
import pytest
from sqlalchemy import text

from app.services.incident_import import import_incidents
from spatial.evidence import NO_HOT_SPOT_NOTE
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA

BASSETERRE = (17.2955, -62.7261)
# St Kitts' main body, for a spatially random background.
ST_KITTS_BOX = (17.20, 17.40, -62.85, -62.65)


def _activate_parishes(client, token) -> None:
    with KNA.open("rb") as handle:
        response = client.post("/api/v1/boundary-sets", headers=auth(token),
                               files={"file": ("parishes.geojson", handle)}, data={"activate": "true"})
    assert response.status_code == 201, response.text


def _import_points(store, tmp_path, lat, lon, source: str, category: str = "Theft") -> int:
    path = tmp_path / f"{source}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        for i, (a, b) in enumerate(zip(lat, lon)):
            writer.writerow([f"{source}-{i}", f"{a:.6f}", f"{b:.6f}", f"2024-{(i % 12) + 1:02d}-15 12:00", category])
    return import_incidents(store, path, filename=path.name, source=source, options=ReadOptions()).inserted


def _random_background(store, tmp_path, seed: int, n: int = 400, source: str = "background") -> None:
    rng = np.random.default_rng(seed)
    south, north, west, east = ST_KITTS_BOX
    _import_points(store, tmp_path, rng.uniform(south, north, n), rng.uniform(west, east, n), source)


def _run(client, token, **body) -> dict:
    response = client.post("/api/v1/analyses", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["url"]
    return client.get(response.json()["url"], headers=auth(token)).json()


@pytest.fixture
def parishes(client, tokens):
    _activate_parishes(client, tokens["gis"])


def test_planted_cluster_is_a_99_percent_hot_spot(client, tokens, store, tmp_path, parishes):
    rng = np.random.default_rng(1)
    _random_background(store, tmp_path, seed=2)
    _import_points(store, tmp_path, BASSETERRE[0] + rng.normal(0, 0.0015, 300),
                   BASSETERRE[1] + rng.normal(0, 0.0015, 300), "cluster")
    run = _run(client, tokens["analyst"], resolution=9, permutations=199, seed=11)
    assert run["status"] == "completed", run
    centre = h3.latlng_to_cell(*BASSETERRE, 9)
    cells = client.get(f"/api/v1/analyses/{run['id']}/cells",
                       headers=auth(tokens["analyst"]), params={"gi_bin": 3, "limit": 10000}).json()
    hot = {f["properties"]["cell"] for f in cells["features"]}
    assert centre in hot
    assert hot <= set(h3.grid_disk(centre, 4)), "hot cells should sit on the planted cluster"

    ranking = client.get(f"/api/v1/analyses/{run['id']}/neighbourhoods", headers=auth(tokens["analyst"])).json()
    first = ranking["neighbourhoods"][0]
    assert first["community"] == "Saint George Basseterre" and first["rank"] == 1
    assert first["hot_cells"]["99%"] >= 1 and first["share_in_hot_cells"] > 0.5
    assert first["top_cells"][0]["gi_bin"] == 3

    provenance = run["provenance"]
    assert provenance["seed"] == 11 and provenance["parameters"]["permutations"] == 199
    assert provenance["incidents_used"] > 300
    assert provenance["weights"]["components"] >= 2  # two islands
    assert provenance["significance"]["p_sim_kind"] == "two-sided"
    assert set(provenance["versions"]) >= {"esda", "libpysal", "h3", "numpy"}
    assert "Saint George Basseterre" in provenance["moran_by_community"]


def test_random_field_gives_few_false_hot_spots(client, tokens, store, tmp_path, parishes):
    """Under spatial randomness, FDR at 5 % should leave (almost) no 95 % hot cells."""
    false_hot, cells = 0, 0
    for seed in range(4):
        _random_background(store, tmp_path, seed=100 + seed, n=600, source=f"random{seed}")
        run = _run(client, tokens["analyst"], resolution=9, permutations=99, seed=seed,
                   sources=[f"random{seed}"], communities=["Saint Peter Basseterre", "Saint George Basseterre",
                                                          "Christ Church Nichola Town", "Saint Mary Cayon"])
        assert run["status"] == "completed", run
        counts = store.session.execute(text(
            "SELECT count(*) FILTER (WHERE gi_bin >= 2), count(*) FROM hotspot_cells WHERE run_id = :id"
        ), {"id": run["id"]}).one()
        false_hot += counts[0]
        cells += counts[1]
    assert cells > 400
    assert false_hot / cells <= 0.01


def test_same_parameters_and_seed_give_identical_results(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=5)
    first = _run(client, tokens["analyst"], resolution=9, permutations=99, seed=7)
    second = _run(client, tokens["analyst"], resolution=9, permutations=99, seed=7)
    query = text("SELECT cell, incidents, gi_z, gi_p_sim, gi_bin, lisa_i, lisa_p_sim, lisa_label "
                 "FROM hotspot_cells WHERE run_id = :id ORDER BY cell")
    a = store.session.execute(query, {"id": first["id"]}).all()
    b = store.session.execute(query, {"id": second["id"]}).all()
    assert len(a) > 100
    assert [tuple(r) for r in a] == [tuple(r) for r in b]


def test_community_too_small_gets_a_clear_message(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=3)
    run = _run(client, tokens["analyst"], resolution=7, communities=["Saint Paul Capisterre"], seed=1)
    assert run["status"] == "failed"
    assert "at least 30" in run["error"] and "resolution" in run["error"]


def test_small_community_inside_a_larger_run_is_named_in_warnings(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=3)
    run = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1)
    assert run["status"] == "completed", run
    small = [name for name, moran in run["provenance"]["moran_by_community"].items() if "message" in moran]
    assert small and any("at least 30" in w for w in run["provenance"]["warnings"])


def test_cells_geojson_pages_and_csv(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=4)
    run = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=2,
               communities=["Saint George Basseterre"])
    url = f"/api/v1/analyses/{run['id']}/cells"
    seen, next_url = [], f"{url}?limit=50"
    while next_url:
        page = client.get(next_url, headers=auth(tokens["analyst"])).json()
        seen += [f["properties"]["cell"] for f in page["features"]]
        next_url = page["next"]
    assert len(seen) == len(set(seen)) == run["provenance"]["cells"]
    feature = client.get(url, headers=auth(tokens["analyst"]), params={"limit": 1}).json()["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert {"incidents", "gi_z", "gi_p_fdr", "gi_bin", "lisa_label", "community"} <= set(feature["properties"])

    exported = client.get(url, headers=auth(tokens["analyst"]), params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(seen)
    assert sum(int(r["incidents"]) for r in rows) == run["provenance"]["incidents_used"]


def test_request_errors(client, tokens, parishes):
    analyst = auth(tokens["analyst"])
    assert client.post("/api/v1/analyses", headers=auth(tokens["viewer"]), json={}).status_code == 403
    bad = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 14})
    assert bad.status_code == 422
    unknown = client.post("/api/v1/analyses", headers=analyst, json={"communities": ["Atlantis"]})
    assert unknown.status_code == 400 and "Atlantis" in unknown.json()["error"]["message"]
    window = client.post("/api/v1/analyses", headers=analyst, json={"start": "2024-02-01", "end": "2024-01-01"})
    assert window.status_code == 422
    assert client.get("/api/v1/analyses/999999", headers=analyst).status_code == 404


def test_no_active_boundaries_is_a_clear_conflict(client, tokens):
    response = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={})
    assert response.status_code == 409
    assert "boundary" in response.json()["error"]["message"]


def test_results_of_a_failed_run_are_409(client, tokens, parishes):
    run = _run(client, tokens["analyst"], seed=1)  # no incidents at all: the run fails
    assert run["status"] == "failed" and "No incidents" in run["error"]
    assert client.get(f"/api/v1/analyses/{run['id']}/cells", headers=auth(tokens["analyst"])).status_code == 409


# --- privacy tiers: shared runs for partners and viewers ------------------------------------


def _partner(store, name: str, communities: list[str]) -> str:
    from app.services.accounts import create_user_with_token

    token = create_user_with_token(store, name, "partner")
    store.accounts.set_scope(store.accounts.find_user(name).id, communities)
    store.session.commit()
    return token


def test_viewers_see_only_shared_runs_with_small_counts_hidden(client, tokens, store, tmp_path, parishes):
    rng = np.random.default_rng(8)
    _random_background(store, tmp_path, seed=9)
    _import_points(store, tmp_path, BASSETERRE[0] + rng.normal(0, 0.002, 120),
                   BASSETERRE[1] + rng.normal(0, 0.002, 120), "dv", category="Domestic violence")
    police = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1)
    shared = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, audience="shared")
    assert shared["status"] == "completed", shared
    viewer = auth(tokens["viewer"])
    listed = {r["id"] for r in client.get("/api/v1/analyses", headers=viewer).json()["runs"]}
    assert shared["id"] in listed and police["id"] not in listed
    assert client.get(f"/api/v1/analyses/{police['id']}", headers=viewer).status_code == 404
    assert client.get(f"/api/v1/analyses/{police['id']}/cells", headers=viewer).status_code == 404

    # the shared run was counted without the sensitive category: as a police run of thefts only
    thefts = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, categories=["Theft"])
    assert shared["provenance"]["incidents_used"] == thefts["provenance"]["incidents_used"]
    # a run counts the incidents inside the parishes (their own assignment); some DV points lie in the sea
    dv_inside = store.session.execute(text("SELECT count(*) FROM incidents WHERE source = 'dv' AND community_id IS NOT NULL"
                                     )).scalar_one()
    assert 90 < dv_inside < 120
    assert police["provenance"]["incidents_used"] == thefts["provenance"]["incidents_used"] + dv_inside
    cells = client.get(f"/api/v1/analyses/{shared['id']}/cells", headers=viewer, params={"limit": 10000}).json()
    counts = [f["properties"]["incidents"] for f in cells["features"]]
    assert all(c is None or c >= 5 for c in counts) and None in counts
    assert all(f["geometry"]["type"] == "Polygon" for f in cells["features"])
    response = client.get(f"/api/v1/analyses/{shared['id']}/cells", headers=viewer, params={"format": "csv"})
    assert response.status_code == 200, response.text
    exported = response.text
    assert exported.count("\n") > 10
    assert all(row["incidents"] == "" or int(row["incidents"]) >= 5 for row in csv.DictReader(io.StringIO(exported)))
    ranking = client.get(f"/api/v1/analyses/{shared['id']}/neighbourhoods", headers=viewer).json()["neighbourhoods"]
    assert all(r["incidents"] is None or r["incidents"] >= 5 for r in ranking)
    body = str(cells) + exported + str(ranking)
    assert "Domestic violence" not in body and "domestic violence" not in body


def test_categories_match_whatever_the_case_and_unknown_ones_are_refused_in_words(client, tokens, store, tmp_path,
                                                                                  parishes):
    _random_background(store, tmp_path, seed=9)  # category "Theft"
    analyst = auth(tokens["analyst"])
    listed = client.get("/api/v1/categories", headers=analyst).json()["categories"]
    assert {"name": "Theft", "sensitive": False} in listed
    exact = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, categories=["Theft"])
    typed = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, categories=["  tHEFT "])
    assert typed["parameters"]["categories"] == ["Theft"]
    assert typed["provenance"]["incidents_used"] == exact["provenance"]["incidents_used"] > 0
    wrong = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 8, "categories": ["Thefts"]})
    message = wrong.json()["error"]["message"]
    assert wrong.status_code == 400 and "No incident has the category 'Thefts'" in message and "Theft" in message
    assert client.get("/api/v1/categories", headers=auth(tokens["viewer"])).status_code == 403


def test_shared_runs_refuse_fine_cells_and_sensitive_categories(client, tokens, parishes):
    analyst = auth(tokens["analyst"])
    fine = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 9, "audience": "shared"})
    assert fine.status_code == 400 and "resolution 8 or coarser" in fine.json()["error"]["message"]
    sensitive = client.post("/api/v1/analyses", headers=analyst,
                            json={"resolution": 8, "audience": "shared", "categories": ["Rape"]})
    assert sensitive.status_code == 400 and "sensitive" in sensitive.json()["error"]["message"]


def test_partner_sees_only_its_communities(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=10, n=800)
    shared = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=2, audience="shared")
    token = _partner(store, "cayon-council", ["Saint Mary Cayon"])
    partner = auth(token)
    ranking = client.get(f"/api/v1/analyses/{shared['id']}/neighbourhoods", headers=partner).json()
    assert [r["community"] for r in ranking["neighbourhoods"]] == ["Saint Mary Cayon"]
    cells = client.get(f"/api/v1/analyses/{shared['id']}/cells", headers=partner, params={"limit": 10000}).json()
    assert {f["properties"]["community"] for f in cells["features"]} == {"Saint Mary Cayon"}
    communities = client.get("/api/v1/communities", headers=partner).json()["communities"]
    assert [c["name"] for c in communities] == ["Saint Mary Cayon"]
    other = next(c["id"] for c in client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()
                 ["communities"] if c["name"] == "Saint Paul Charlestown")
    assert client.get(f"/api/v1/communities/{other}", headers=partner).status_code == 404
    assert client.get(f"/api/v1/analyses/{shared['id']}/cells", headers=partner,
                      params={"community": other}).status_code == 404
    assert client.get("/api/v1/incidents", headers=partner).status_code == 403


def test_scopes_are_set_through_the_api_and_hide_other_runs(client, tokens, store, tmp_path, parishes):
    _random_background(store, tmp_path, seed=11, n=800)
    admin, analyst = auth(tokens["admin"]), auth(tokens["analyst"])
    nevis = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=3, audience="shared",
                 communities=["Saint Paul Charlestown", "Saint James Windward", "Saint John Figtree",
                              "Saint George Gingerland", "Saint Thomas Lowland"])
    everywhere = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=3, audience="shared")
    created = client.post("/api/v1/users", headers=admin, json={
        "name": "sandy-point-group", "role": "partner", "communities": ["Saint Anne Sandy Point"]}).json()
    partner = auth(created["token"])
    listed = {r["id"] for r in client.get("/api/v1/analyses", headers=partner).json()["runs"]}
    assert everywhere["id"] in listed and nevis["id"] not in listed
    assert client.get(f"/api/v1/analyses/{nevis['id']}", headers=partner).status_code == 404
    seen = client.get(f"/api/v1/analyses/{everywhere['id']}", headers=partner).json()
    assert "warnings" not in seen["provenance"]
    assert "moran_by_community" not in seen["provenance"] and "moran" not in seen["provenance"]

    user_id = next(u["id"] for u in client.get("/api/v1/users", headers=admin).json()["users"]
                   if u["name"] == "sandy-point-group")
    client.put(f"/api/v1/users/{user_id}/communities", headers=admin,
               json={"communities": ["Saint Paul Charlestown"]})
    assert client.get(f"/api/v1/analyses/{nevis['id']}", headers=partner).status_code == 200
    names = [c["name"] for c in client.get("/api/v1/communities", headers=partner).json()["communities"]]
    assert names == ["Saint Paul Charlestown"]
    assert client.get(f"/api/v1/analyses/{nevis['id']}", headers=analyst).status_code == 200


def test_a_run_without_permutations_labels_cells_not_tested(client, tokens, store, tmp_path, parishes):
    """Only the analytic inference draws permutations for LISA; the default exact test needs none."""
    _random_background(store, tmp_path, seed=12)
    run = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=1, inference="analytic",
               communities=["Saint George Basseterre"])
    labels = set(store.session.execute(text("SELECT DISTINCT lisa_label FROM hotspot_cells WHERE run_id = :id"),
                                 {"id": run["id"]}).scalars())
    assert labels <= {"Not tested", "No neighbours"} and "Not tested" in labels

    exact = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=1,
                 communities=["Saint George Basseterre"])
    labels = set(store.session.execute(text("SELECT DISTINCT lisa_label FROM hotspot_cells WHERE run_id = :id"),
                                 {"id": exact["id"]}).scalars())
    assert "Not tested" not in labels
    assert exact["provenance"]["significance"]["permutations_per_cell"] == "exact (all arrangements)"


def test_a_run_too_sparse_to_conclude_says_so_everywhere(client, tokens, store, tmp_path, parishes):
    """60 spatially random incidents over the parishes at resolution 8: no hot spot, and the run, the
    map and the ranking say there were too few incidents, with figures for police and none for viewers."""
    _random_background(store, tmp_path, seed=31, n=60)
    run = _run(client, tokens["analyst"], resolution=8, seed=4, audience="shared")
    assert run["status"] == "completed", run
    evidence = run["provenance"]["evidence"]
    assert evidence["enough_data"] is False and evidence["hot_cells"] == 0
    assert evidence["message"].startswith("Too few incidents in the area analysed to find hot spots: ")
    assert "resolution 7" in evidence["message"] or "times longer" in evidence["message"]
    assert run["provenance"]["significance"]["inference"] == "conditional"

    page = client.get(f"/maps/analyses/{run['id']}", headers=auth(tokens["analyst"])).text
    assert "Too few incidents in the area analysed" in page and "every other arrangement" in page
    ranking = client.get(f"/api/v1/analyses/{run['id']}/neighbourhoods", headers=auth(tokens["analyst"])).json()
    assert any((entry["evidence"] or "").startswith("Too few incidents in Saint") for entry in ranking["neighbourhoods"])

    # below analyst only what the published classes show: no "too few" threshold on hidden counts
    viewer = auth(tokens["viewer"])
    shown = client.get(f"/api/v1/analyses/{run['id']}", headers=viewer).json()["provenance"]["evidence"]
    assert shown == {"message": NO_HOT_SPOT_NOTE}
    page = client.get(f"/maps/analyses/{run['id']}", headers=viewer).text
    assert NO_HOT_SPOT_NOTE in page and "Too few incidents" not in page
    entries = client.get(f"/api/v1/analyses/{run['id']}/neighbourhoods", headers=viewer).json()["neighbourhoods"]
    assert entries and all(e["evidence"] == NO_HOT_SPOT_NOTE for e in entries)
