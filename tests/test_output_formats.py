"""The output-format seam (app/formats): the registry names the formats the API offers, and the
formatters write exactly the bytes the routes wrote before the seam (a seeded run, every tier).

The "before" is pinned here as the old code wrote it: GeoJSON pages were a dict serialised by
FastAPI's ``JSONResponse``, CSV files the standard ``csv`` writer with spreadsheet-safe cells.
"""

from __future__ import annotations

import csv
import io
import json

import h3
import pytest
from fastapi.responses import JSONResponse

from app.formats import ALIASES, FORMATS, Feature, accepted_names, format_names
from app.formats.csv_table import CsvFormat
from app.formats.geojson import GeoJsonFormat
from app.privacy import audience_for
from app.security import hash_token
from tests.conftest import auth
from tests.test_analyses_api import _activate_parishes, _random_background, _run


def _old_csv(rows, columns) -> bytes:
    """The CSV export as written before the seam (app/api/csv_export.py)."""
    def safe(value):
        if value is None:
            return ""
        if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
            return "'" + value
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe(row.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def _old_page(rows, audience, number, next_url) -> bytes:
    """A cells page as the route returned it before the seam: a dict, serialised by FastAPI."""
    features = []
    for row in rows:
        geometry = json.loads(row.pop("geometry"))
        row["cell"] = h3.int_to_str(int(row["cell"]))
        if not audience.raw:
            row["incidents"] = audience.count(row["incidents"])
            row["suppressed"] = row["incidents"] is None
        features.append({"type": "Feature", "id": row["cell"], "geometry": geometry, "properties": row})
    return JSONResponse({"type": "FeatureCollection", "features": features, "numberReturned": number,
                         "next": next_url}).body


@pytest.fixture
def seeded_runs(client, tokens, store, tmp_path):
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=21, n=700)
    police = _run(client, tokens["analyst"], resolution=9, permutations=99, seed=5)
    shared = _run(client, tokens["analyst"], resolution=8, permutations=99, seed=5, audience="shared")
    assert police["status"] == shared["status"] == "completed"
    return {"police": police["id"], "shared": shared["id"]}


@pytest.mark.parametrize("role, run", [("analyst", "police"), ("analyst", "shared"), ("viewer", "shared")])
def test_cells_are_byte_for_byte_what_they_were_before_the_seam(client, tokens, store, settings, seeded_runs,
                                                               role, run):
    from spatial.kinds import kind_named  # the cell columns are the run's kind's (Gi* here)

    CSV_COLUMNS, PUBLISHED_CSV_COLUMNS = kind_named("hotspot").csv_columns, kind_named("hotspot").published_csv_columns
    run_id = seeded_runs[run]
    principal = store.accounts.principal_for_token(hash_token(tokens[role]))
    assert principal is not None
    audience = audience_for(principal, settings)
    url = f"/api/v1/analyses/{run_id}/cells"
    page = client.get(url, headers=auth(tokens[role]), params={"limit": 30})
    rows = store.runs.cell_page(run_id, after_cell=None, limit=31, published=not audience.raw)
    assert len(rows) == 31
    next_url = page.json()["next"]
    assert next_url and page.headers["content-type"] == "application/json"
    assert page.content == _old_page(rows[:30], audience, 30, next_url)

    exported = client.get(url, headers=auth(tokens[role]), params={"format": "csv"})
    shaped = []
    for row in store.runs.iter_cells(run_id, published=not audience.raw):
        row["cell"] = h3.int_to_str(int(row["cell"]))
        if not audience.raw:
            row["incidents"] = audience.count(row["incidents"])
            row["suppressed"] = row["incidents"] is None
        shaped.append(row)
    assert exported.content == _old_csv(shaped, CSV_COLUMNS if audience.raw else PUBLISHED_CSV_COLUMNS)
    assert exported.headers["content-disposition"] == f'attachment; filename="hotspot-run-{run_id}-cells.csv"'
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"


def test_incident_pages_are_what_they_were_before_the_seam(client, tokens, seeded_runs):
    page = client.get("/api/v1/incidents", headers=auth(tokens["analyst"]), params={"limit": 7})
    body = page.json()
    assert body["numberReturned"] == 7 and body["next"] and list(body) == [
        "type", "features", "numberReturned", "links", "next"]
    assert page.content == JSONResponse(body).body  # re-serialised as FastAPI did: the same bytes


def test_the_format_parameter_lists_the_registry(client, tokens):
    spec = client.app.openapi()

    def offered(path: str) -> list[str]:
        parameter = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "format")
        return parameter["schema"]["enum"]

    assert offered("/api/v1/analyses/{run_id}/cells") == list(accepted_names()) == [*FORMATS, *ALIASES]
    # Audit entries have no geometry: only formats that write none, beside the JSON listing.
    assert offered("/api/v1/audit") == ["json", *format_names(geometry=False)]
    assert "geojson" not in offered("/api/v1/audit")
    cells = spec["paths"]["/api/v1/analyses/{run_id}/cells"]["get"]["responses"]["200"]["content"]
    assert set(cells) == {"application/json", "text/csv", "application/geopackage+sqlite3", "application/zip",
                          "application/vnd.google-earth.kml+xml"}
    assert client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"format": "geojson"}).status_code == 422


def test_formatters_stream_rows_as_they_are_read():
    taken = []

    def rows(n: int):
        for i in range(n):
            taken.append(i)
            yield Feature({"cell": f"=cell{i}", "incidents": -i, "note": "x" * 200},
                          {"type": "Point", "coordinates": [i, -i]}, id=i)

    for formatter in (CsvFormat(), GeoJsonFormat()):
        taken.clear()
        pieces = formatter.write(rows(2000), ["cell", "incidents", "note"])
        next(pieces)
        assert 0 < len(taken) < 2000, formatter.name  # the first piece came before the last row was read
        rest = b"".join(pieces)
        assert len(taken) == 2000 and rest
    written = b"".join(CsvFormat().write(rows(2), ["cell", "incidents"])).decode()
    assert written.splitlines() == ["cell,incidents", "'=cell0,0", "'=cell1,-1"]
    collection = json.loads(b"".join(GeoJsonFormat().write(rows(2), [], {"numberReturned": 2})))
    assert collection["numberReturned"] == 2 and collection["features"][1] == {
        "type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [1, -1]},
        "properties": {"cell": "=cell1", "incidents": -1, "note": "x" * 200}}
    assert json.loads(b"".join(GeoJsonFormat().write([], []))) == {"type": "FeatureCollection", "features": []}


def test_every_format_declares_how_it_is_served():
    for name, formatter in FORMATS.items():
        assert formatter.name == name and formatter.extension and "/" in formatter.media_type
        assert isinstance(formatter.uses_geometry, bool)
