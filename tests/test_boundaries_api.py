"""Boundary sets through the API: every format from real files, bad files refused, activation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from app.services.incident_import import import_incidents
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.spatial.bad_boundaries import BAD_FILES, KNA
from tests.spatial.conftest import CHICAGO, kna_frame, made  # noqa: F401  (fixtures)

REPAIRED_NOT_REFUSED = {"bowties", "mixed_points_and_polygons"}


def _upload(client, token, path: Path, name: str | None = None, **form):
    with path.open("rb") as handle:
        return client.post("/api/v1/boundary-sets", headers=auth(token),
                           files={"file": (name or path.name, handle)}, data=form)


def _state(store) -> tuple:
    return tuple(store.session.execute(text(
        "SELECT (SELECT count(*) FROM boundary_sets), (SELECT count(*) FROM communities), "
        "(SELECT coalesce(sum(community_id), 0) FROM incidents), "
        "(SELECT count(*) FROM boundary_sets WHERE is_active)"
    )).one())


@pytest.mark.parametrize("which, expected, form", [
    ("chicago", 77, {}),
    ("kna", 14, {}),
    ("sf_zip", 579, {"name_field": "GEO_ID"}),
    ("kna_gpkg", 14, {}),
    ("utm_shp_zip", 14, {}),
    ("kml", 14, {}),
    ("kmz", 14, {}),
])
def test_every_format_uploads(client, tokens, made, which, expected, form):
    path = {"chicago": CHICAGO, "kna": KNA}.get(which) or made[which]
    response = _upload(client, tokens["gis"], path, **form)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["communities"] == expected
    assert body["report"]["communities_kept"] == expected
    stored = client.get(body["url"], headers=auth(tokens["viewer"])).json()
    assert stored["communities"] == expected
    assert stored["report"]["format"] == body["report"]["format"]


def test_multi_layer_geopackage_lists_layers_then_takes_one(client, tokens, made, store):
    before = _state(store)
    refused = _upload(client, tokens["gis"], made["multi_gpkg"])
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "parishes" in message and "chicago_areas" in message
    assert _state(store) == before
    chosen = _upload(client, tokens["gis"], made["multi_gpkg"], layer="chicago_areas", name_field="community")
    assert chosen.status_code == 201 and chosen.json()["communities"] == 77


@pytest.mark.parametrize("case", sorted(set(BAD_FILES) - REPAIRED_NOT_REFUSED))
def test_bad_files_are_refused_and_write_nothing(client, tokens, store, tmp_path, case):
    path, original_name = BAD_FILES[case](tmp_path)
    before = _state(store)
    response = _upload(client, tokens["gis"], path, name=original_name)
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["error"]["message"]
    assert len(message) > 20 and "Traceback" not in message
    assert _state(store) == before


def test_bowtie_is_repaired_and_named_in_the_report(client, tokens, tmp_path):
    path, name = BAD_FILES["bowties"](tmp_path)
    body = _upload(client, tokens["gis"], path, name=name).json()
    assert body["communities"] == 2
    assert [r["name"] for r in body["report"]["repaired"]] == ["Bow tie"]


def test_only_gis_staff_upload(client, tokens):
    for role in ("viewer", "analyst"):
        assert _upload(client, tokens[role], KNA).status_code == 403


def _planted_incidents(store, tmp_path) -> None:
    """Three incidents in Saint George Basseterre, one in Saint Paul Charlestown (Nevis)."""
    path = tmp_path / "kna.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        for i in range(3):
            writer.writerow([f"b{i}", 17.2955 + i * 0.001, -62.7261, "2024-03-0%d 10:00" % (i + 1), "Theft"])
        writer.writerow(["n1", 17.1385, -62.6230, "2024-04-02 10:00", "Drugs"])
    import_incidents(store, path, filename=path.name, source="kna-test", options=ReadOptions())


def test_activation_moves_incidents_between_sets(client, tokens, store, tmp_path, made):
    _planted_incidents(store, tmp_path)
    assert store.session.execute(text("SELECT count(*) FROM incidents WHERE community_id IS NOT NULL")).scalar_one() == 0

    parishes = _upload(client, tokens["gis"], KNA, activate="true").json()
    assert parishes["incidents_reassigned"] == 4
    names = dict(store.session.execute(text(
        "SELECT i.external_id, c.name FROM incidents i JOIN communities c ON c.id = i.community_id"
    )).all())
    assert names["n1"] == "Saint Paul Charlestown"
    assert {names[f"b{i}"] for i in range(3)} == {"Saint George Basseterre"}

    communities = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"]
    assert len(communities) == 14
    basseterre = next(c for c in communities if c["name"] == "Saint George Basseterre")
    assert basseterre["incidents"] == 3
    # Below analyst, 3 incidents is under the suppression threshold (k = 5).
    shared = client.get("/api/v1/communities", headers=auth(tokens["viewer"])).json()["communities"]
    assert next(c for c in shared if c["name"] == "Saint George Basseterre")["incidents"] is None

    detail = client.get(f"/api/v1/communities/{basseterre['id']}", headers=auth(tokens["analyst"])).json()
    assert detail["type"] == "Feature" and detail["geometry"]["type"] == "MultiPolygon"
    assert detail["properties"]["by_category"] == [{"category": "Theft", "incidents": 3}]
    assert detail["properties"]["by_month"] == [{"month": "2024-03", "incidents": 3}]

    # A second set (the same parishes from a UTM GeoPackage) takes over: incidents move to its communities.
    second = _upload(client, tokens["gis"], made["utm_gpkg"]).json()
    assert second["active"] is False
    moved = client.post(f"/api/v1/boundary-sets/{second['id']}/activate", headers=auth(tokens["gis"])).json()
    assert moved["incidents_reassigned"] == 4
    owners = store.session.execute(text(
        "SELECT DISTINCT c.boundary_set_id FROM incidents i JOIN communities c ON c.id = i.community_id"
    )).scalars().all()
    assert owners == [second["id"]]
    sets = client.get("/api/v1/boundary-sets", headers=auth(tokens["viewer"])).json()["boundary_sets"]
    assert [s["is_active"] for s in sets if s["id"] in (parishes["id"], second["id"])] == [True, False]


def test_incidents_imported_later_are_assigned_on_the_way_in(client, tokens, store, tmp_path):
    _upload(client, tokens["gis"], KNA, activate="true")
    _planted_incidents(store, tmp_path)
    missing = store.session.execute(text("SELECT count(*) FROM incidents WHERE community_id IS NULL")).scalar_one()
    assert missing == 0


def test_unknown_set_and_community_are_404(client, tokens):
    assert client.post("/api/v1/boundary-sets/999999/activate", headers=auth(tokens["gis"])).status_code == 404
    assert client.get("/api/v1/boundary-sets/999999", headers=auth(tokens["viewer"])).status_code == 404
    assert client.get("/api/v1/communities/999999", headers=auth(tokens["viewer"])).status_code == 404
