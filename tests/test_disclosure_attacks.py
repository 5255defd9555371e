"""Issue 20's attacks, run as a viewer or partner against the real service on PostGIS.

The world: the KNA parishes; a background of thefts over St Kitts in 2024; in one Basseterre
cell 10 robberies in January 2024 and 2 in February, and 2 homicides in January. Each test
plays the attacker with everything a below-analyst audience can fetch, and asserts that no
count under k can be determined (or narrowed below [0, k-1]).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

import h3
import pytest
from sqlalchemy import text

from app.services.incident_import import import_incidents
from app.services.tiles import resolution_for_zoom
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _partner, _random_background
from tests.test_maps import geojson_variables, make_client  # noqa: F401  (make_client: a fixture)
from tests.test_tiles import decode, tiles_covering

K = 5
KNA_BOUNDS = (-62.87, 17.09, -62.53, 17.42)
# Anything continuous computed from exact counts: a suppressed count can be solved back from it.
STATISTICS = {"gi_z", "gi_p", "gi_p_sim", "gi_p_fdr", "lisa_i", "lisa_p_sim", "lisa_p_fdr", "moran",
              "moran_by_community", "incidents_used", "z_norm", "p_norm", "p_sim"}


def _import(store, tmp_path, name: str, rows: list[tuple[str, str]], lat=BASSETERRE[0], lon=BASSETERRE[1]):
    """Import incidents at one point: ``rows`` are (local time, category)."""
    path = tmp_path / f"{name}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        for i, (when, category) in enumerate(rows):
            writer.writerow([f"{name}-{i}", lat, lon, when, category])
    return import_incidents(store, path, filename=path.name, source=name, options=ReadOptions())


def _submit(client, token, **body):
    body = {"resolution": 8, "permutations": 0, "seed": 1, "audience": "shared", **body}
    return client.post("/api/v1/analyses", headers=auth(token), json=body)


@pytest.fixture
def world(client, tokens, store, tmp_path) -> dict:
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=21, n=900)
    _import(store, tmp_path, "robbery", [("2024-01-10 12:00", "Robbery")] * 10 + [("2024-02-10 12:00", "Robbery")] * 2)
    _import(store, tmp_path, "homicide", [("2024-01-20 12:00", "Homicide")] * 2)
    return {}


def _keys(value) -> set[str]:
    """Keys holding a figure (a description such as ``"moran": "row-standardised"`` is no figure)."""
    if isinstance(value, dict):
        return {k for k, v in value.items() if not isinstance(v, str)} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _viewer_everything(client, token: str, run_id: int) -> dict:
    """All a viewer can fetch about a run: record, cells (GeoJSON, CSV), ranking, TileJSON, tiles."""
    headers = auth(token)
    run = client.get(f"/api/v1/analyses/{run_id}", headers=headers).json()
    cells = client.get(f"/api/v1/analyses/{run_id}/cells", headers=headers, params={"limit": 10000}).json()
    exported = client.get(f"/api/v1/analyses/{run_id}/cells", headers=headers, params={"format": "csv"}).text
    ranking = client.get(f"/api/v1/analyses/{run_id}/neighbourhoods", headers=headers).json()
    tilejson = client.get("/tiles/hotspots.json", headers=headers, params={"run": run_id}).json()
    features: dict[int, list[dict]] = {}
    for z in (6, 7, 8, 9, 10, 11):
        features[z] = []
        for x, y in tiles_covering(KNA_BOUNDS, z):
            response = client.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"run": run_id}, headers=headers)
            assert response.status_code in (200, 204), response.text
            if response.status_code == 200:
                features[z] += decode(response.content)["hotspots"]["features"]
    return {"run": run, "cells": cells, "csv": list(csv.DictReader(io.StringIO(exported))), "ranking": ranking,
            "tilejson": tilejson, "tiles": features}


def test_no_published_statistic_lets_a_suppressed_count_be_solved(client, tokens, world, make_client):
    """The z-score attack (issue 20: 116 of 309 suppressed Chicago cells solved exactly): below analyst
    no z, p, local I or Moran's I is published anywhere, so the linear system has no equations."""
    run = _submit(client, tokens["analyst"], start="2024-01-01", end="2025-01-01")
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    seen = _viewer_everything(client, tokens["viewer"], run_id)
    assert seen["run"]["status"] == "completed", seen["run"]
    hidden = [f for f in seen["cells"]["features"] if f["properties"]["suppressed"]]
    assert hidden, "some cells must be suppressed for the attack to mean anything"
    leaked = _keys(seen["run"]["provenance"]) & (STATISTICS - {"incidents_used"})
    assert not leaked, leaked
    assert seen["run"]["provenance"]["incidents_used"] is None
    assert not _keys(seen["cells"]) & STATISTICS
    assert not set(seen["csv"][0]) & STATISTICS
    assert not _keys(seen["ranking"]["neighbourhoods"]) & STATISTICS and seen["ranking"]["moran"] is None
    assert not set(seen["tilejson"]["vector_layers"][0]["fields"]) & STATISTICS
    for z, features in seen["tiles"].items():
        assert features, z
        assert not _keys([f["properties"] for f in features]) & STATISTICS, z
    page = make_client().get(f"/maps/analyses/{run_id}", headers=auth(tokens["viewer"])).text
    inline = [f["properties"] for data in geojson_variables(page) for f in data.get("features", [])]
    assert inline and not _keys(inline) & STATISTICS
    # Police still get every statistic of the same run.
    police = client.get(f"/api/v1/analyses/{run_id}/cells", headers=auth(tokens["analyst"])).json()
    assert "gi_z" in police["features"][0]["properties"]


def test_a_hidden_cells_quadrant_is_not_published(client, tokens, world, session):
    """The quadrant says which side of the grid's mean a cell's own count is on: for a hidden cell in a
    sparse grid that tells none from one or two. Below analyst it is published only with a significant
    cluster label (which says as much), in the API, the CSV and to the restricted database role."""
    run_id = _submit(client, tokens["analyst"], start="2024-01-01", end="2025-01-01").json()["id"]
    seen = _viewer_everything(client, tokens["viewer"], run_id)
    significant = {"High-High", "Low-High", "Low-Low", "High-Low"}
    cells = [f["properties"] for f in seen["cells"]["features"]]
    assert any(c["lisa_label"] not in significant for c in cells)
    for cell in cells + seen["csv"]:
        if cell["lisa_label"] in significant:
            assert cell["lisa_quadrant"] not in (None, ""), cell
        else:
            assert cell["lisa_quadrant"] in (None, ""), cell
    police = client.get(f"/api/v1/analyses/{run_id}/cells", headers=auth(tokens["analyst"]),
                        params={"limit": 10000}).json()
    assert {f["properties"]["lisa_quadrant"] for f in police["features"]} - {None}
    with pytest.raises(Exception, match="permission denied"), session.begin_nested():
        session.execute(text("SET LOCAL ROLE hotspots_restricted"))
        session.execute(text("SELECT lisa_quadrant FROM hotspot_cells LIMIT 1"))


def test_parents_and_rankings_never_bound_a_hidden_count(client, tokens, world):
    """Rounded parents pinned or narrowed hidden children (2 pinned, 15 narrowed of 25), and rankings
    on exact figures put a hidden count between its neighbours'. Now every published aggregate is the
    same sum over the published cells: subtracting the cells shown leaves exactly 0, so the attacker's
    bounds on every hidden count stay [0, k-1]."""
    run_id = _submit(client, tokens["analyst"], start="2024-01-01", end="2025-01-01").json()["id"]
    seen = _viewer_everything(client, tokens["viewer"], run_id)
    cells = {f["properties"]["cell"]: f["properties"] for f in seen["cells"]["features"]}
    run_resolution = 8
    checked = 0
    bounds: dict[str, tuple[int, int]] = {c: (0, K - 1) for c, p in cells.items() if p["suppressed"]}
    for z, features in seen["tiles"].items():
        res = resolution_for_zoom(z)
        if res >= run_resolution:
            continue
        children: dict[str, list[dict]] = defaultdict(list)
        for cell, props in cells.items():
            children[h3.cell_to_parent(cell, res)].append({"cell": cell, **props})
        for feature in features:
            parent = feature["properties"]["cell"]
            shown = sum(c["incidents"] or 0 for c in children[parent])
            published = feature["properties"].get("incidents", 0)
            residual = published - shown  # what the attacker learns about the hidden children's sum
            assert residual == 0, (z, feature["properties"])
            for child in children[parent]:
                if child["suppressed"]:
                    low, high = bounds[child["cell"]]
                    # residual 0 of a sum the rule says excludes hidden children: no constraint at all
                    bounds[child["cell"]] = (low, high)
            checked += 1
    assert checked > 20
    assert bounds and all(b == (0, K - 1) for b in bounds.values())
    # The ranking: each figure is the sum of the published cells of the community, the order follows it.
    by_community: dict[str, list[dict]] = defaultdict(list)
    for props in cells.values():
        by_community[props["community"]].append(props)
    ranking = seen["ranking"]["neighbourhoods"]
    for entry in ranking:
        mine = by_community[entry["community"]]
        assert (entry["incidents"] or 0) == sum(p["incidents"] or 0 for p in mine)
        assert entry["incidents_in_hot_cells"] == sum(p["incidents"] or 0 for p in mine if p["gi_bin"] >= 2)
        assert entry["cells_hidden"] == sum(p["suppressed"] for p in mine)
        assert "area_km2" in entry and "moran" not in entry
    order = [(-e["incidents_in_hot_cells"], -(e["incidents_per_km2"] or 0), e["community"]) for e in ranking]
    assert order == sorted(order)


def test_one_day_more_or_less_is_refused(client, tokens, world):
    """A run of January and one of January plus a day would give that day's incidents per cell."""
    analyst = tokens["analyst"]
    assert _submit(client, analyst, start="2024-01-01", end="2024-02-01").status_code == 202
    for start, end in (("2024-01-01", "2024-02-02"), ("2024-01-02", "2024-02-01"), ("2024-01-01", "2024-01-31"),
                       ("2024-02-01", "2024-05-01"), ("2024-03-01", "2025-03-01"), ("2024-01-01", None)):
        response = _submit(client, analyst, start=start, end=end)
        assert response.status_code == 422, (start, end, response.text)
        assert "calendar" in response.json()["error"]["message"]
    future = _submit(client, analyst, start="2099-01-01", end="2099-02-01")
    assert future.status_code == 422 and "no later than" in future.json()["error"]["message"]


def test_one_category_difference_is_refused(client, tokens, world):
    """Robbery vs robbery + homicide located the homicides (issue 20: 16 cells with 1-2)."""
    analyst = tokens["analyst"]
    first = _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Robbery"])
    assert first.status_code == 202
    attack = _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Robbery", "Homicide"])
    assert attack.status_code == 409, attack.text
    message = attack.json()["error"]["message"]
    assert f"shared run {first.json()['id']}" in message and "reveal counts of 1 to 4" in message
    # The same release again changes nothing; a category group that does not overlap is fine.
    assert _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Robbery"]).status_code == 202
    assert _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Theft"]).status_code == 202


def test_nested_periods_and_late_reports_are_refused(client, tokens, world, store, tmp_path):
    """A month inside a published year, or the same year again after late reports, differs by a few."""
    analyst = tokens["analyst"]
    year = _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Robbery"])
    assert year.status_code == 202
    january = _submit(client, analyst, start="2024-01-01", end="2024-02-01", categories=["Robbery"])
    assert january.status_code == 409, january.text  # 10 in January, 12 in the year: 2 in February
    _import(store, tmp_path, "late", [("2024-03-03 12:00", "Robbery")])
    again = _submit(client, analyst, start="2024-01-01", end="2025-01-01", categories=["Robbery"])
    assert again.status_code == 409 and f"shared run {year.json()['id']}" in again.json()["error"]["message"]


def test_the_worker_checks_the_release_log_again(client, tokens, world, store):
    """Runs queued together are checked against each other when they execute (an earlier queued run
    is counted again), so submitting both before either runs does not get round the log."""
    from app.services import analyses

    settings = client.app.state.settings
    first = analyses.submit(store, analyses.AnalysisRequest(
        resolution=8, permutations=0, seed=1, audience="shared", start="2024-01-01", end="2025-01-01",
        categories=["Robbery"]), settings=settings, user_id=None)
    with pytest.raises(Exception, match=f"shared run {first}"):  # refused at once, the first still queued
        analyses.submit(store, analyses.AnalysisRequest(
            resolution=8, permutations=0, seed=1, audience="shared", start="2024-01-01", end="2025-01-01",
            categories=["Robbery", "Homicide"]), settings=settings, user_id=None)
    store.session.rollback()
    # Written around the service's check (as a second process racing the first would): the worker refuses it.
    parameters = {**store.runs.get_run(first).parameters.document, "categories": ["Homicide", "Robbery"]}
    second = store.runs.create_run(parameters=parameters, seed=1, boundary_set_id=store.runs.get_run(
        first).boundary_set_id, user_id=None, audience="shared")
    store.session.commit()
    analyses.execute(store, first)
    analyses.execute(store, second)
    status = dict(store.session.execute(text("SELECT id, status FROM hotspot_runs WHERE id IN (:a, :b)"),
                                  {"a": first, "b": second}).all())
    assert status == {first: "completed", second: "failed"}
    error = store.session.execute(text("SELECT error FROM hotspot_runs WHERE id = :id"), {"id": second}).scalar_one()
    assert f"shared run {first}" in error


def test_spelling_variants_never_reach_a_partner(client, tokens, world, store, tmp_path):
    from tests.spatial.test_sensitive import VARIANTS

    report = _import(store, tmp_path, "variants", [("2024-05-05 12:00", v) for v in VARIANTS for _ in range(6)])
    assert {c["category"] for c in report.sensitive_categories} == set(VARIANTS)
    partner = auth(_partner(store, "basseterre-partner", ["Saint George Basseterre"]))
    run = _submit(client, tokens["analyst"], start="2024-05-01", end="2024-06-01")
    assert run.status_code == 202, run.text
    community = next(c for c in client.get("/api/v1/communities", headers=partner).json()["communities"])
    detail = client.get(f"/api/v1/communities/{community['id']}", headers=partner).json()
    cells = client.get(f"/api/v1/analyses/{run.json()['id']}/cells", headers=partner, params={"limit": 10000}).json()
    page = client.get(f"/communities/{community['id']}", headers=partner).text
    body = json.dumps([community, detail, cells], ensure_ascii=False) + page
    for variant in VARIANTS:
        assert variant not in body and variant.lower() not in body.lower()
    # May 2024 holds only the background thefts for the partner: the 6 x 21 variants add nothing.
    counted = store.session.execute(text(
        "SELECT coalesce(sum(incidents), 0) FROM hotspot_cells WHERE run_id = :r"), {"r": run.json()["id"]}).scalar_one()
    thefts = store.session.execute(text(
        "SELECT count(*) FROM incidents WHERE category = 'Theft' AND occurred_at >= '2024-05-01' "
        "AND occurred_at < '2024-06-01'")).scalar_one()
    assert counted <= thefts


def test_admin_terms_reclass_categories_and_withdraw_shared_runs(client, tokens, world, store, tmp_path):
    admin, viewer = auth(tokens["admin"]), auth(tokens["viewer"])
    _import(store, tmp_path, "obeah", [("2024-04-04 12:00", "Obeah practice")] * 6)
    run = _submit(client, tokens["analyst"], start="2024-04-01", end="2024-05-01").json()["id"]
    assert client.get(f"/api/v1/analyses/{run}", headers=viewer).status_code == 200
    added = client.post("/api/v1/sensitive-categories/terms", headers=admin, json={"term": "  OBÉAH "})
    assert added.status_code == 201, added.text
    assert added.json()["term"] == "obeah" and added.json()["now_sensitive"] == ["Obeah practice"]
    assert run in added.json()["shared_runs_withdrawn"]
    assert client.get(f"/api/v1/analyses/{run}", headers=viewer).status_code == 404
    listed = client.get("/api/v1/sensitive-categories", headers=admin).json()
    assert {"Obeah practice": True}.items() <= {c["name"]: c["sensitive"] for c in listed["categories"]}.items()
    audit = client.get("/api/v1/audit", headers=admin).json()
    assert any(e["action"] == "sensitive_term.add" and e["target"] == "  OBÉAH " for e in audit["entries"])
    shipped = client.delete("/api/v1/sensitive-categories/terms/rape", headers=admin)
    assert shipped.status_code == 400 and "shipped" in shipped.json()["error"]["message"]
    assert client.delete("/api/v1/sensitive-categories/terms/obeah", headers=admin).status_code == 200
    assert client.post("/api/v1/sensitive-categories/terms", headers=admin, json={"term": "\u200b"}).status_code == 400


def test_another_resolution_of_the_same_release_is_refused(client, tokens, world):
    """A resolution-7 cell minus its resolution-8 children shown is the sum of the hidden children."""
    analyst = tokens["analyst"]
    fine = _submit(client, analyst, start="2024-01-01", end="2025-01-01", resolution=8)
    assert fine.status_code == 202, fine.text
    coarse = _submit(client, analyst, start="2024-01-01", end="2025-01-01", resolution=7)
    assert coarse.status_code == 409, coarse.text
    assert f"shared run {fine.json()['id']}" in coarse.json()["error"]["message"]


def test_a_withdrawn_release_stays_in_the_log(client, tokens, world, store, tmp_path):
    """Partners may have kept a run withdrawn when a category became sensitive: the same month again
    without that category would locate its incidents."""
    _import(store, tmp_path, "april", [("2024-04-04 12:00", "Theft")] * 5 + [("2024-04-05 12:00", "Obeah rite")] * 3)
    first = _submit(client, tokens["analyst"], start="2024-04-01", end="2024-05-01")
    assert first.status_code == 202, first.text
    added = client.post("/api/v1/sensitive-categories/terms", headers=auth(tokens["admin"]), json={"term": "obeah"})
    assert first.json()["id"] in added.json()["shared_runs_withdrawn"]
    again = _submit(client, tokens["analyst"], start="2024-04-01", end="2024-05-01")
    assert again.status_code == 409, again.text
    assert f"shared run {first.json()['id']}" in again.json()["error"]["message"]


def test_community_figures_do_not_move_with_the_day(client, tokens, world, store, tmp_path):
    """Totals cut at 'now minus the hold-back' changed every day, giving a day's incidents per
    community; they now count whole calendar months that have ended (and only their groups of k)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    viewer = auth(tokens["viewer"])
    community = store.session.execute(text("SELECT community_id FROM incidents WHERE source = 'robbery' LIMIT 1")).scalar_one()
    before = client.get(f"/api/v1/communities/{community}", headers=viewer).json()["properties"]
    listed_before = client.get("/api/v1/communities", headers=viewer).json()
    moment = datetime.now(ZoneInfo("America/St_Kitts")) - timedelta(minutes=30)
    if moment.day == 1 and moment.hour == 0:  # keep the new incidents inside the current month
        moment += timedelta(minutes=29)
    _import(store, tmp_path, "today", [(moment.strftime("%Y-%m-%d %H:%M"), "Robbery")] * 7)
    after = client.get(f"/api/v1/communities/{community}", headers=viewer).json()["properties"]
    assert after["incidents"] == before["incidents"] and after["by_month"] == before["by_month"]
    assert after["by_category"] == before["by_category"]
    assert client.get("/api/v1/communities", headers=viewer).json() == listed_before
    assert moment.strftime("%Y-%m") not in {m["month"] for m in after["by_month"]}
    police = client.get(f"/api/v1/communities/{community}", headers=auth(tokens["analyst"])).json()["properties"]
    assert moment.strftime("%Y-%m") in {m["month"] for m in police["by_month"]}
