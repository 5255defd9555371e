"""Complementary suppression: the total minus the groups shown never reveals one small count."""

from __future__ import annotations

import csv

from sqlalchemy import text

from app.services.incident_import import import_incidents
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA

BASSETERRE = (17.2955, -62.7261)


def test_community_figures_are_sums_of_published_category_months(client, store, tokens, tmp_path):
    with KNA.open("rb") as handle:
        client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                    files={"file": ("kna.geojson", handle)}, data={"activate": "true"})
    path = tmp_path / "groups.csv"
    groups = {"Theft": 20, "Burglary": 9, "Robbery": 6, "Arson": 2}  # one group under k = 5
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        i = 0
        for category, n in groups.items():
            for _ in range(n):
                writer.writerow([f"g{i}", BASSETERRE[0] + (i % 10) * 0.0002, BASSETERRE[1], "2024-03-10", category])
                i += 1
    import_incidents(store, path, filename=path.name, source="groups", options=ReadOptions())
    community = store.session.execute(text("SELECT community_id FROM incidents WHERE source = 'groups' LIMIT 1")).scalar_one()

    viewer = client.get(f"/api/v1/communities/{community}", headers=auth(tokens["viewer"])).json()["properties"]
    shown = {r["category"]: r["incidents"] for r in viewer["by_category"]}
    # One category in one month is the atom: Arson (2) is hidden, and the total is the sum of the atoms
    # shown, so the total minus the groups shown reveals nothing (0).
    assert shown == {"Theft": 20, "Burglary": 9, "Robbery": 6}
    assert viewer["incidents"] == 35
    assert viewer["incidents"] - sum(shown.values()) == 0
    assert {r["month"]: r["incidents"] for r in viewer["by_month"]} == {"2024-03": 35}

    analyst = client.get(f"/api/v1/communities/{community}", headers=auth(tokens["analyst"])).json()["properties"]
    assert {r["category"]: r["incidents"] for r in analyst["by_category"]} == groups
