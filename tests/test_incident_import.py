"""Incident imports from the real files in ../shared/data, through the API and the service."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.services.incident_import import import_incidents
from spatial.errors import InvalidUpload
from spatial.incidents_io import ReadOptions
from tests.conftest import auth

CHICAGO = ZoneInfo("America/Chicago")
PACIFIC = ZoneInfo("America/Los_Angeles")


def _count(store, where: str = "true", **params) -> int:
    return store.session.execute(text(f"SELECT count(*) FROM incidents WHERE {where}"), params).scalar_one()


def _upload(client, token, path: Path, **form):
    with path.open("rb") as handle:
        return client.post(
            "/api/v1/incidents/imports", headers=auth(token),
            files={"file": (path.name, handle)}, data=form,
        )


def test_chicago_rejects_rows_without_coordinates_and_reimport_adds_nothing(client, store, tokens, shared_data):
    path = shared_data / "chicago" / "chicago_crimes_2012_10k.csv"
    first = _upload(client, tokens["analyst"], path, source="chicago", timezone="America/Chicago")
    assert first.status_code == 201, first.text
    report = first.json()
    assert report["rows_read"] == 10_000
    assert report["rejected"] == 87
    assert report["rejected_by_reason"] == {"missing coordinates": 87}
    assert all("missing coordinates" in r["reason"] for r in report["rejected_rows"])
    assert report["rejected_rows"][0]["row"] == 2  # the first data row of the file has no location
    assert report["inserted"] + report["duplicates"] == 9_913
    assert _count(store, "source = 'chicago'") == report["inserted"]
    assert report["columns"]["latitude"] == "latitude" and report["columns"]["occurred_at"] == "date"

    second = _upload(client, tokens["analyst"], path, source="chicago", timezone="America/Chicago").json()
    assert second["inserted"] == 0
    assert second["duplicates"] == 9_913
    assert second["duplicate_rows"][0]["reason"] == "already imported"
    assert _count(store, "source = 'chicago'") == report["inserted"]

    stored = client.get(f"/api/v1/incidents/imports/{report['import_id']}", headers=auth(tokens["analyst"])).json()
    assert stored["status"] == "completed" and stored["rejected"] == 87
    assert stored["report"]["rejected_rows"][0]["row"] == 2


def test_chicago_local_times_and_h3_cells(store, shared_data):
    path = shared_data / "chicago" / "chicago_crimes_2012_10k.csv"
    import_incidents(store, path, filename=path.name, source="chi",
                     options=ReadOptions(timezone=CHICAGO, chunk_rows=3000))
    row = store.session.execute(text(
        "SELECT occurred_at AT TIME ZONE 'America/Chicago' AS local, h3_cell, ST_X(geom) x, ST_Y(geom) y "
        "FROM incidents WHERE source='chi' AND external_id='HY448381'"
    )).one()
    assert str(row.local) == "2012-01-01 00:00:00"
    import h3

    assert h3.latlng_to_cell(row.y, row.x, 15) == h3.int_to_str(row.h3_cell)


def test_sf_dates_without_time_and_repeated_incidents(store, shared_data):
    path = shared_data / "sf_2012" / "sf_crime_2012H2_points.csv"
    report = import_incidents(store, path, filename=path.name, source="sfpd",
                              options=ReadOptions(timezone=PACIFIC))
    assert report.rejected == 0
    # The file has 10,140 distinct IncidntNum values: 3,319 rows repeat another row
    # whole and 13 more repeat an incident number with another offence. Kept once.
    assert report.duplicates == 3_332
    assert report.inserted == 10_140
    assert report.duplicate_rows[0]["reason"] == "repeats an earlier row of this file"
    local = store.session.execute(text(
        "SELECT DISTINCT (occurred_at AT TIME ZONE 'America/Los_Angeles')::time FROM incidents WHERE source='sfpd'"
    )).scalars().all()
    assert [str(t) for t in local] == ["00:00:00"]


def test_projected_shapefile_matches_csv_within_a_metre(client, store, tokens, shared_data, tmp_path):
    folder = shared_data / "sf_2012" / "shapefiles"
    archive = tmp_path / "sf_robbery.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.glob("sf_robbery.*"):
            zf.write(part, part.name)
    response = _upload(client, tokens["analyst"], archive, source="sf-shp", timezone="America/Los_Angeles")
    assert response.status_code == 201, response.text
    assert response.json()["inserted"] > 2000

    csv_path = shared_data / "sf_2012" / "sf_crime_2012H2_points.csv"
    import_incidents(store, csv_path, filename=csv_path.name, source="sf-csv", options=ReadOptions(timezone=PACIFIC))
    distances = store.session.execute(text(
        "SELECT max(ST_Distance(s.geom::geography, c.geom::geography)) AS worst, count(*) AS n "
        "FROM incidents s JOIN incidents c ON c.external_id = s.external_id AND c.source = 'sf-csv' "
        "WHERE s.source = 'sf-shp'"
    )).one()
    assert distances.n > 2000
    assert distances.worst < 1.0


def test_geojson_import(client, store, tokens, tmp_path):
    path = tmp_path / "incidents.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[-62.72,17.30]},'
        '"properties":{"id":"A1","date":"2024-05-01T10:00:00","offense":"Burglary"}},'
        '{"type":"Feature","geometry":null,"properties":{"id":"A2","date":"2024-05-01","offense":"Theft"}},'
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[-62.6,17.2]},'
        '"properties":{"id":"A3","date":"not a date","offense":"Theft"}}]}'
    )
    body = _upload(client, tokens["analyst"], path, source="gj").json()
    assert body["inserted"] == 1
    reasons = {r["row"]: r["reason"] for r in body["rejected_rows"]}
    assert "no point geometry" in reasons[2]
    assert "not a recognisable date" in reasons[3]
    row = store.session.execute(text("SELECT category, occurred_at AT TIME ZONE 'America/St_Kitts' AS local_time "
                               "FROM incidents WHERE source='gj'")).one()
    assert row.category == "Burglary" and str(row.local_time) == "2024-05-01 10:00:00"


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_each_bad_row_is_named(store, tmp_path):
    path = _write_csv(tmp_path / "bad.csv", [
        ["case_id", "lat", "lon", "date", "type"],
        ["1", "17.3", "-62.7", "2024-01-02 10:00", "Robbery"],
        ["2", "", "-62.7", "2024-01-02", "Robbery"],
        ["3", "abc", "-62.7", "2024-01-02", "Robbery"],
        ["4", "97.1", "-62.7", "2024-01-02", "Robbery"],
        ["5", "17.3", "-262.7", "2024-01-02", "Robbery"],
        ["6", "17.3", "-62.7", "", "Robbery"],
        ["7", "17.3", "-62.7", "yesterday-ish", "Robbery"],
        ["8", "17.3", "-62.7", "2999-01-01", "Robbery"],
        ["9", "0", "0", "2024-01-02", "Robbery"],
        ["10", "nan", "inf", "2024-01-02", "Robbery"],
        ["11", "17.31", "-62.71", "2024-01-03", "Assault"],
    ])
    report = import_incidents(store, path, filename=path.name, source="clerk",
                              options=ReadOptions(service_area=(-63.0, 17.0, -62.5, 17.5)))
    reasons = {r["row"]: r["reason"] for r in report.rejected_rows}
    assert report.inserted == 2
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert "missing coordinates" in reasons[3]
    assert "not numbers" in reasons[4]
    assert "latitude 97.1 is out of range" in reasons[5]
    assert "longitude -262.7 is out of range" in reasons[6]
    assert reasons[7] == "missing date"
    assert "not a recognisable date" in reasons[8]
    assert "in the future" in reasons[9]
    assert "0,0" in reasons[10]
    assert "not numbers" in reasons[11] or "not finite" in reasons[11]


def test_service_area_rejects_outside_points(store, tmp_path):
    path = _write_csv(tmp_path / "area.csv", [
        ["id", "latitude", "longitude", "date"],
        ["a", "17.30", "-62.72", "2024-01-01"],
        ["b", "41.88", "-87.63", "2024-01-01"],
    ])
    report = import_incidents(store, path, filename=path.name, source="s",
                              options=ReadOptions(service_area=(-62.9, 17.0, -62.5, 17.5)))
    assert report.inserted == 1
    assert report.rejected_rows == [{"row": 3, "reason": "location 41.880000,-87.630000 is outside the service area"}]


def test_file_without_ids_is_deduplicated_by_row_hash(store, tmp_path):
    path = _write_csv(tmp_path / "noid.csv", [
        ["latitude", "longitude", "date", "category"],
        ["17.30", "-62.72", "2024-01-01 08:00", "Theft"],
        ["17.31", "-62.73", "2024-01-01 09:00", "Theft"],
    ])
    first = import_incidents(store, path, filename=path.name, source="noid", options=ReadOptions())
    again = import_incidents(store, path, filename=path.name, source="noid", options=ReadOptions())
    assert (first.inserted, again.inserted, again.duplicates) == (2, 0, 2)
    ids = store.session.execute(text("SELECT external_id FROM incidents WHERE source='noid'")).scalars().all()
    assert all(i.startswith("sha1:") for i in ids)


def test_column_overrides(store, tmp_path):
    path = _write_csv(tmp_path / "custom.csv", [
        ["ref", "northing_deg", "easting_deg", "when", "what"],
        ["r1", "17.30", "-62.72", "03/04/2024 10:00", "Drugs"],
    ])
    with pytest.raises(InvalidUpload) as refused:
        import_incidents(store, path, filename=path.name, source="o", options=ReadOptions())
    assert "latitude" in refused.value.message and "northing_deg" in refused.value.message
    options = ReadOptions(day_first=True, columns={"latitude": "northing_deg", "longitude": "easting_deg",
                                                    "occurred_at": "when", "category": "what", "external_id": "ref"})
    report = import_incidents(store, path, filename=path.name, source="o", options=options)
    assert report.inserted == 1
    row = store.session.execute(text("SELECT external_id, category, "
                               "occurred_at AT TIME ZONE 'America/St_Kitts' AS local_time FROM incidents WHERE source='o'")).one()
    assert (row.external_id, row.category, str(row.local_time)) == ("r1", "Drugs", "2024-04-03 10:00:00")


def test_unknown_override_column_is_a_clear_422(client, tokens, tmp_path):
    path = _write_csv(tmp_path / "x.csv", [["latitude", "longitude", "date"], ["17.3", "-62.7", "2024-01-01"]])
    response = _upload(client, tokens["analyst"], path, latitude_column="nope")
    assert response.status_code == 422
    assert "nope" in response.json()["error"]["message"]


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"just one column\nvalue\n", "fewer than two columns"),
    (b"a,b,c\n1,2,3\n", "Could not find the latitude and longitude and date column"),
    (b"latitude,longitude,date\n", "no incident rows"),
    (b"latitude,longitude,date\n,,\n", "None of the 1 rows"),
])
def test_bad_files_are_refused_and_write_nothing(client, store, tokens, tmp_path, content, fragment):
    before = store.session.execute(text("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM imports)")).one()
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    response = _upload(client, tokens["analyst"], path)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]["message"]
    after = store.session.execute(text("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM imports)")).one()
    assert tuple(after) == tuple(before)


def test_unsupported_extension_is_refused(client, tokens, tmp_path):
    path = tmp_path / "incidents.xlsx"
    path.write_bytes(b"PK\x03\x04 not really")
    response = _upload(client, tokens["analyst"], path)
    assert response.status_code == 422
    assert "cannot be imported" in response.json()["error"]["message"]


def test_upload_size_limit(client, app, tokens, tmp_path):
    app.state.settings = app.state.settings.model_copy(update={"max_upload_mb": 1})
    path = tmp_path / "big.csv"
    path.write_bytes(b"latitude,longitude,date\n" + b"17.3,-62.7,2024-01-01\n" * 60_000)
    response = _upload(client, tokens["analyst"], path)
    assert response.status_code == 413
    assert "upload limit" in response.json()["error"]["message"]


def test_viewer_cannot_import(client, tokens, tmp_path):
    path = _write_csv(tmp_path / "x.csv", [["latitude", "longitude", "date"], ["17.3", "-62.7", "2024-01-01"]])
    assert _upload(client, tokens["viewer"], path).status_code == 403
