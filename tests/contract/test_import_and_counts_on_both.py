"""On both stores: a dry run writes nothing, identical rows are kept, an import is undone exactly (and
refused while a run counting it runs), and a community has one count everywhere.

Chicago's 10,000 crimes and 77 community areas: each area's count on its page,
in the ranking of runs at H3 resolutions 8, 9 and 10, and by a point-in-polygon
count done here with shapely, are the same; no incident inside an area is lost
from a run's cells.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from app.errors import Conflict
from app.services import analyses
from app.services.boundaries import BoundaryOptions, upload_boundary_set
from app.services.import_undo import undo_import
from app.services.incident_import import import_incidents
from app.services.run_results import neighbourhood_ranking
from app.store import communities as community_store
from spatial.incidents_io import ReadOptions
from tests.contract.conftest import SAMPLE_BOUNDARIES, Store
from tests.contract.test_real_data_on_both import _chicago

TABLES = ("incidents", "imports", "hotspot_runs", "hotspot_cells")


def _snapshot(store: Store) -> str:
    """A digest of every row of the tables an import or undo could touch."""
    digest = hashlib.sha256()
    for table in TABLES:
        for row in store.session.execute(text(f"SELECT * FROM {table}")).all():
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _generated(path: Path, seed: int, n: int = 400, repeats: int = 30) -> Path:
    """St Kitts incidents without ids, month-first dates, some rows exactly repeated."""
    rng = np.random.default_rng(seed)
    rows = [[f"{rng.uniform(17.20, 17.40):.6f}", f"{rng.uniform(-62.85, -62.65):.6f}",
             f"{1 + i % 12:02d}/{1 + i % 28:02d}/2024 10:{i % 60:02d}", rng.choice(["Theft", "Drugs"])]
            for i in range(n)]
    rows += [rows[int(i)] for i in rng.integers(0, n, repeats)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["latitude", "longitude", "date", "category"])
        writer.writerows(rows)
    return path


def _parishes(store: Store) -> None:
    upload_boundary_set(store.session, SAMPLE_BOUNDARIES, original_name=SAMPLE_BOUNDARIES.name,
                        options=BoundaryOptions(name="parishes", activate=True), service_area=None,
                        max_bytes=store.settings.max_upload_bytes)


def _run(store: Store, **request) -> int:
    run_id = analyses.submit(store.session, analyses.AnalysisRequest(permutations=0, seed=1, **request),
                             settings=store.settings, user_id=None)
    analyses.execute(store.session, run_id)
    return run_id


def test_dry_run_identical_rows_and_undo(store: Store, tmp_path):
    _parishes(store)
    path = _generated(tmp_path / "kna.csv", seed=1)
    options = ReadOptions(timezone=store.settings.zone)
    before = _snapshot(store)
    preview = import_incidents(store.session, path, filename=path.name, source="kna", options=options, dry_run=True)
    assert _snapshot(store) == before
    assert (preview.inserted, preview.repeated_rows, preview.date_order) == (430, 30, "month/day/year")

    report = import_incidents(store.session, path, filename=path.name, source="kna", options=options)
    assert (report.inserted, report.repeated_rows) == (430, 30)
    run_id = _run(store)
    store.session.execute(text("UPDATE hotspot_runs SET status = 'running' WHERE id = :id"), {"id": run_id})
    store.session.commit()
    before = _snapshot(store)
    with pytest.raises(Conflict):
        undo_import(store.session, report.import_id, user_id=None)
    assert _snapshot(store) == before
    store.session.execute(text("UPDATE hotspot_runs SET status = 'completed' WHERE id = :id"), {"id": run_id})
    store.session.commit()

    result = undo_import(store.session, report.import_id, user_id=None)
    assert (result["removed"], result["runs_marked_data_changed"]) == (430, [run_id])
    assert store.session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 0
    changed = store.session.execute(text("SELECT data_changed FROM hotspot_runs WHERE id = :id"),
                                    {"id": run_id}).scalar_one()
    assert f"Import {report.import_id}" in changed
    again = import_incidents(store.session, path, filename=path.name, source="kna", options=options)
    assert (again.inserted, again.duplicates) == (430, 0)


def _shapely_counts(shared_data) -> dict[str, int]:
    """Chicago incidents per community area by point-in-polygon, here, from the files themselves."""
    with (shared_data / "chicago" / "Chicago_2020_community_areas.geojson").open() as handle:
        features = json.load(handle)["features"]
    names = [f["properties"]["community"] for f in features]
    polygons = [shapely.geometry.shape(f["geometry"]) for f in features]
    seen, points = set(), []
    with (shared_data / "chicago" / "chicago_crimes_2012_10k.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["latitude"] or not row["longitude"] or row["case_number"] in seen:
                continue
            seen.add(row["case_number"])
            points.append(shapely.Point(float(row["longitude"]), float(row["latitude"])))
    tree = shapely.STRtree(polygons)
    point_index, polygon_index = tree.query(points, predicate="intersects")
    first = {}
    for p, g in zip(point_index.tolist(), polygon_index.tolist()):
        first[p] = min(first.get(p, g), g)  # a point on a shared border goes to the first-listed area
    counts = dict.fromkeys(names, 0)
    for g in first.values():
        counts[names[g]] += 1
    return counts


def test_chicago_one_count_of_a_community_everywhere(store: Store, shared_data):
    loaded = _chicago(store, shared_data)
    expected = _shapely_counts(shared_data)
    assert sum(expected.values()) > 9_800
    page = {c["name"]: community_store.get_community(store.session, c["id"])["incidents"]
            for c in community_store.list_active_communities(store.session)}
    assert page == expected == loaded["per_community"]
    for resolution in (8, 9, 10):
        run_id = _run(store, resolution=resolution)
        run = analyses.run_store.get_run(store.session, run_id)
        assert run.status == "completed", run.error
        ranking = {r["community"]: r["incidents"] for r in neighbourhood_ranking(store.session, run)}
        assert ranking == expected, resolution
        cells = store.session.execute(text("SELECT sum(incidents) FROM hotspot_cells WHERE run_id = :id"),
                                      {"id": run_id}).scalar_one()
        assert cells == run.provenance.incidents_used == sum(expected.values())  # none lost at the borders
