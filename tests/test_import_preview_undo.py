"""Through the API: a dry run writes nothing; identical rows are kept and a re-import still recognised;
an import is undone (exactly its rows, audited, refused while a run counting them is running, runs that
counted them marked), then imported again with another mapping; the home page counts what lies in no
community. Every file is made here from generated rows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from bs4 import BeautifulSoup
from sqlalchemy import text

from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA
from tests.test_incident_bad_files import checksum

# St Kitts' main body; some points fall in the sea, outside every parish.
ST_KITTS_BOX = (17.20, 17.40, -62.85, -62.65)


def _houston_like(path: Path, seed: int, n: int = 300, repeats: int = 40) -> Path:
    """No id column, a street-suffix 'type' beside the real 'offense', some rows exactly repeated,
    day-first dates (ambiguous ones first), two unusable rows."""
    rng = np.random.default_rng(seed)
    south, north, west, east = ST_KITTS_BOX
    rows = []
    for i in range(n):
        day = 1 + (i % 12) if i < n // 2 else 13 + (i % 15)
        rows.append([f"{rng.uniform(south, north):.6f}", f"{rng.uniform(west, east):.6f}",
                     f"{day:02d}/{1 + i % 12:02d}/2024 {i % 24:02d}:{i % 60:02d}",
                     rng.choice(["dr", "st", "ave", "rd"]), rng.choice(["Theft", "Burglary", "Robbery"])])
    rows += [rows[int(i)] for i in rng.integers(0, n, repeats)]
    rows += [["", "-62.7", "01/02/2024 10:00", "st", "Theft"], ["17.3", "-62.7", "not a date", "dr", "Theft"]]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["latitude", "longitude", "date", "type", "offense"])
        writer.writerows(rows)
    return path


def _upload(client, token, path: Path, query: str = "", **form):
    with path.open("rb") as handle:
        return client.post(f"/api/v1/incidents/imports{query}", headers=auth(token),
                           files={"file": (path.name, handle)}, data=form)


def _activate_parishes(client, token) -> None:
    with KNA.open("rb") as handle:
        response = client.post("/api/v1/boundary-sets", headers=auth(token),
                               files={"file": ("parishes.geojson", handle)}, data={"activate": "true"})
    assert response.status_code == 201, response.text


def test_dry_run_reports_everything_and_writes_nothing(client, store, tokens, tmp_path):
    _activate_parishes(client, tokens["gis"])
    path = _houston_like(tmp_path / "houston.csv", seed=1)
    before = checksum(store)
    preview = _upload(client, tokens["analyst"], path, "?dry_run=true", source="houston")
    assert preview.status_code == 200, preview.text
    assert checksum(store) == before
    report = preview.json()
    assert report["dry_run"] is True and report["import_id"] is None
    assert (report["rows_read"], report["inserted"], report["rejected"]) == (342, 340, 2)
    assert report["rejected_by_reason"] == {"missing coordinates": 1, "not a recognisable date": 1}
    assert report["repeated_rows"] == 40
    assert any(w.startswith("40 rows repeat another row exactly: kept as separate incidents")
               for w in report["warnings"])
    assert report["columns"]["category"] == "offense"
    assert any("'type' (looks like street types" in a for a in report["column_alternatives"]["category"])
    assert report["date_order"] == "day/month/year" and "first field above 12" in report["date_order_reason"]
    assert len(report["preview"]) == 10 and report["preview"][0]["row"] == 2
    assert report["outside_communities"] > 0 and any("lie in no community" in w for w in report["warnings"])

    real = _upload(client, tokens["analyst"], path, source="houston").json()
    assert real["inserted"] == report["inserted"] and real["outside_communities"] == report["outside_communities"]
    again = _upload(client, tokens["analyst"], path, "?dry_run=true", source="houston").json()
    assert (again["inserted"], again["duplicates"]) == (0, 340)


def test_identical_rows_kept_and_files_imported_before_numbering_still_recognised(client, store, tokens,
                                                                                    tmp_path):
    path = _houston_like(tmp_path / "h.csv", seed=2)
    first = _upload(client, tokens["analyst"], path, source="h").json()
    assert first["inserted"] == 340 and first["duplicates"] == 0
    stored = store.session.execute(text("SELECT count(*) FROM incidents WHERE source = 'h'")).scalar_one()
    assert stored == 340
    # As the importer stored such a file before rows were numbered: each distinct row once, by its hash.
    store.session.execute(text("DELETE FROM incidents WHERE source = 'h' AND external_id LIKE '%#%'"))
    store.session.commit()
    again = _upload(client, tokens["analyst"], path, source="h").json()
    assert again["duplicates"] == 340 - 40 and again["inserted"] == 40


def _run(client, token, **body) -> dict:
    response = client.post("/api/v1/analyses", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    return client.get(response.json()["url"], headers=auth(token)).json()


def test_undo_removes_exactly_its_rows_then_reimport_with_another_mapping(client, store, tokens, tmp_path):
    _activate_parishes(client, tokens["gis"])
    path = _houston_like(tmp_path / "h.csv", seed=3)
    other = _upload(client, tokens["analyst"], _houston_like(tmp_path / "other.csv", seed=4), source="other").json()
    wrong = _upload(client, tokens["analyst"], path, source="h", category_column="type").json()
    assert wrong["columns"]["category"] == "type" and wrong["column_reasons"]["category"] == "'type': chosen by you"
    run = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1)
    assert run["status"] == "completed" and run["data_changed"] is None
    elsewhere = _run(client, tokens["analyst"], resolution=8, permutations=0, seed=1, sources=["other"])

    # A run that counts the rows is running: refused, nothing changed.
    store.session.execute(text("UPDATE hotspot_runs SET status = 'running' WHERE id = :id"), {"id": run["id"]})
    store.session.commit()
    before = checksum(store)
    refused = client.delete(f"/api/v1/incidents/imports/{wrong['import_id']}", headers=auth(tokens["analyst"]))
    assert refused.status_code == 409 and f"run(s) {run['id']}" in refused.json()["error"]["message"]
    assert checksum(store) == before
    store.session.execute(text("UPDATE hotspot_runs SET status = 'completed' WHERE id = :id"), {"id": run["id"]})
    store.session.commit()

    assert client.delete(f"/api/v1/incidents/imports/{wrong['import_id']}",
                         headers=auth(tokens["viewer"])).status_code == 403
    undone = client.delete(f"/api/v1/incidents/imports/{wrong['import_id']}", headers=auth(tokens["analyst"]))
    assert undone.status_code == 200, undone.text
    assert undone.json()["removed"] == 340 and undone.json()["runs_marked_data_changed"] == [run["id"]]
    counts = dict(store.session.execute(text("SELECT source, count(*) FROM incidents GROUP BY source")).all())
    assert counts == {"other": other["inserted"]}
    record = client.get(f"/api/v1/incidents/imports/{wrong['import_id']}", headers=auth(tokens["analyst"])).json()
    assert record["status"] == "undone" and record["undone_at"] is not None
    assert record["report"]["columns"]["category"] == "type"  # the record and its report are kept
    marked = client.get(f"/api/v1/analyses/{run['id']}", headers=auth(tokens["analyst"])).json()
    assert "was undone" in marked["data_changed"]
    assert client.get(f"/api/v1/analyses/{elsewhere['id']}", headers=auth(tokens["analyst"])).json()[
        "data_changed"] is None
    assert client.delete(f"/api/v1/incidents/imports/{wrong['import_id']}",
                         headers=auth(tokens["analyst"])).status_code == 409
    audit = store.session.execute(text("SELECT outcome FROM audit_events WHERE action = 'incidents.import.undo' "
                                 "ORDER BY id")).scalars().all()
    assert audit == ["refused", "ok", "refused"]  # the viewer was stopped before the handler (403)
    home = BeautifulSoup(client.get("/", headers=auth(tokens["analyst"])).text, "html.parser")
    assert "data changed since this run" in home.get_text()

    right = _upload(client, tokens["analyst"], path, source="h", category_column="offense").json()
    assert right["inserted"] == 340 and right["duplicates"] == 0
    categories = set(store.session.execute(text("SELECT DISTINCT category FROM incidents WHERE source = 'h'")).scalars())
    assert categories == {"Theft", "Burglary", "Robbery"}


def test_home_page_says_how_many_incidents_lie_in_no_community(client, store, tokens, tmp_path):
    _activate_parishes(client, tokens["gis"])
    _upload(client, tokens["analyst"], _houston_like(tmp_path / "h.csv", seed=5), source="h")
    outside = store.session.execute(text("SELECT count(*) FROM incidents WHERE community_id IS NULL")).scalar_one()
    assert outside > 0
    page = BeautifulSoup(client.get("/", headers=auth(tokens["analyst"])).text, "html.parser")
    assert page.select_one(".outside-communities").get_text().startswith(f"{outside:,} incidents lie in no community")
