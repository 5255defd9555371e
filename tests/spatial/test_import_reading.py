"""Reading incident files without silently changing them: date order, columns by content, decimal commas,
Excel serials, daylight-saving hours, identical rows. Every file is made here, from generated rows."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from spatial.errors import InvalidUpload
from spatial.incidents_io import ReadOptions, read_incident_file

ZONE = ZoneInfo("America/St_Kitts")
CHICAGO = ZoneInfo("America/Chicago")


def _write(path: Path, header: list[str], rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _stamps(rng: np.random.Generator, n: int, *, ambiguous_only: bool = False) -> list[datetime]:
    """Random times of 2024; with ``ambiguous_only`` every day is 1-12 and differs from its month."""
    start = datetime(2024, 1, 1)
    stamps = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 365 * 24 * 60, n)]
    if ambiguous_only:
        stamps = [s.replace(day=1 + (s.month % 12)) for s in stamps]
    return stamps


def _read(path: Path, **options):
    reading, chunks = read_incident_file(path, ReadOptions(timezone=options.pop("timezone", ZONE), **options))
    chunks = list(chunks)
    batches = [c.batch for c in chunks]
    occurred = pd.concat([b.occurred_at for b in batches], ignore_index=True)
    rejections = [r for c in chunks for r in c.rejections]
    return reading, occurred, rejections, batches


def _local(occurred: pd.Series, zone: ZoneInfo = ZONE) -> list[str]:
    return occurred.dt.tz_convert(zone).dt.strftime("%Y-%m-%d %H:%M").tolist()


def _points(rng, n):
    return rng.uniform(17.25, 17.35, n), rng.uniform(-62.80, -62.70, n)


@pytest.mark.parametrize("day_first", [True, False])
def test_date_order_is_decided_from_the_whole_column(tmp_path, day_first):
    rng = np.random.default_rng(1 if day_first else 2)
    n = 2000
    stamps = _stamps(rng, n)
    # The first 500 rows are all ambiguous (day <= 12): only the rest of the file tells the order.
    stamps[:500] = _stamps(rng, 500, ambiguous_only=True)
    pattern = "%d/%m/%Y %H:%M" if day_first else "%m/%d/%Y %H:%M"
    lat, lon = _points(rng, n)
    path = _write(tmp_path / "dates.csv", ["latitude", "longitude", "date"],
                  [[a, b, s.strftime(pattern)] for a, b, s in zip(lat, lon, stamps)])
    reading, occurred, rejections, _ = _read(path, chunk_rows=300)
    assert rejections == []
    assert reading.date_order.day_first is day_first
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]  # none swapped
    assert "rows" in reading.date_order.explanation


def test_mixed_orders_are_refused_naming_rows(tmp_path):
    rng = np.random.default_rng(3)
    stamps = _stamps(rng, 400)
    rows = []
    for i, s in enumerate(stamps):
        pattern = "%d/%m/%Y" if i % 2 else "%m/%d/%Y"
        rows.append([17.3, -62.7, s.replace(day=20).strftime(pattern)])
    path = _write(tmp_path / "mixed.csv", ["latitude", "longitude", "date"], rows)
    with pytest.raises(InvalidUpload) as refused:
        read_incident_file(path, ReadOptions())
    message = refused.value.message
    assert "mixes day-first and month-first" in message
    assert "rows 3, 5, 7" in message and "rows 2, 4, 6" in message


def test_all_ambiguous_dates_are_refused_unless_told(tmp_path):
    rng = np.random.default_rng(4)
    stamps = _stamps(rng, 300, ambiguous_only=True)
    lat, lon = _points(rng, 300)
    path = _write(tmp_path / "ambiguous.csv", ["latitude", "longitude", "date"],
                  [[a, b, s.strftime("%d/%m/%Y %H:%M")] for a, b, s in zip(lat, lon, stamps)])
    with pytest.raises(InvalidUpload) as refused:
        read_incident_file(path, ReadOptions())
    assert "day_first" in refused.value.message and "300 ambiguous" in refused.value.message

    reading, occurred, _, _ = _read(path, day_first=True)
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]
    assert reading.warnings() == []  # the importer said so: nothing assumed

    reading, occurred, _, _ = _read(path, date_order="day-first")
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]
    assert reading.date_order.assumed == 300
    assert any("300 dates could be day/month or month/day" in w and "HOTSPOTS_DATE_ORDER" in w
               for w in reading.warnings())


def test_explicit_order_rejects_values_that_cannot_be_it(tmp_path):
    path = _write(tmp_path / "x.csv", ["latitude", "longitude", "date"],
                  [[17.3, -62.7, "03/04/2024"], [17.3, -62.7, "03/25/2024"]])
    _, occurred, rejections, _ = _read(path, day_first=True)
    assert _local(occurred) == ["2024-04-03 00:00"]
    assert [r.row for r in rejections] == [3] and "day/month/year" in rejections[0].reason


def test_full_timestamp_beats_a_bare_date_and_date_plus_time_are_combined(tmp_path):
    rng = np.random.default_rng(5)
    stamps = _stamps(rng, 200)
    lat, lon = _points(rng, 200)
    both = _write(tmp_path / "both.csv", ["latitude", "longitude", "date", "time", "category"],
                  [[a, b, s.strftime("%Y-%m-%d"), s.strftime("%Y-%m-%d %H:%M"), "Theft"]
                   for a, b, s in zip(lat, lon, stamps)])
    reading, occurred, _, _ = _read(both)
    assert reading.mapping.occurred_at == "time" and reading.mapping.occurred_time is None
    assert "'date' (dates without a time of day)" in reading.choice.alternatives["occurred_at"]
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]

    split = _write(tmp_path / "split.csv", ["latitude", "longitude", "date", "time"],
                   [[a, b, s.strftime("%Y-%m-%d"), s.strftime("%H:%M")] for a, b, s in zip(lat, lon, stamps)])
    reading, occurred, _, _ = _read(split)
    assert (reading.mapping.occurred_at, reading.mapping.occurred_time) == ("date", "time")
    assert "combined" in reading.choice.reasons["occurred_time"]
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]


def test_category_must_look_like_categories(tmp_path):
    rng = np.random.default_rng(6)
    n = 500
    suffixes = rng.choice(["dr", "st", "ave", "rd", "blvd", "ln"], n)
    offences = rng.choice(["Theft", "Burglary", "Assault", "Robbery"], n)
    lat, lon = _points(rng, n)
    path = _write(tmp_path / "houston.csv", ["latitude", "longitude", "date", "type", "offense"],
                  [[a, b, "2024-02-01 10:00", s, o] for a, b, s, o in zip(lat, lon, suffixes, offences)])
    reading, _, _, batches = _read(path)
    assert reading.mapping.category == "offense"
    assert any("'type' (looks like street types" in a for a in reading.choice.alternatives["category"])
    assert set(np.concatenate([b.category for b in batches])) == {"Theft", "Burglary", "Assault", "Robbery"}

    addresses = [f"{rng.integers(1, 999)} Main Street" for _ in range(n)]
    path = _write(tmp_path / "addresses.csv", ["latitude", "longitude", "date", "category"],
                  [[a, b, "2024-02-01", c] for a, b, c in zip(lat, lon, addresses)])
    reading, _, _, _ = _read(path)
    assert reading.mapping.category is None
    assert "looks like addresses" in reading.choice.alternatives["category"][0]


def test_coordinates_out_of_range_are_passed_over(tmp_path):
    rng = np.random.default_rng(7)
    lat, lon = _points(rng, 100)
    # x and y are State Plane feet; lat and lon are degrees.
    path = _write(tmp_path / "feet.csv", ["x", "y", "lon", "lat", "date"],
                  [[a * 1e5, b * 1e5, b, a, "2024-02-01"] for a, b in zip(lat, lon)])
    reading, _, rejections, batches = _read(path)
    assert (reading.mapping.latitude, reading.mapping.longitude) == ("lat", "lon")
    assert rejections == [] and np.allclose(batches[0].lat, lat)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_decimal_commas_with_semicolons_or_tabs(tmp_path, delimiter):
    rng = np.random.default_rng(8)
    lat, lon = _points(rng, 150)
    rows = [[f"{a:.6f}".replace(".", ","), f"{b:.6f}".replace(".", ","), "2024-02-01 10:00", "Théft"]
            for a, b in zip(lat, lon)]
    path = _write(tmp_path / "comma.csv", ["latitude", "longitude", "date", "category"], rows,
                  delimiter=delimiter, encoding="cp1252")
    reading, _, rejections, batches = _read(path)
    assert rejections == []
    np.testing.assert_allclose(batches[0].lat, np.round(lat, 6))
    assert any("300 coordinates written with a decimal comma" in w for w in reading.warnings())


def test_excel_serial_dates(tmp_path):
    rng = np.random.default_rng(9)
    stamps = _stamps(rng, 100)
    serials = [(s - datetime(1899, 12, 30)) / timedelta(days=1) for s in stamps]
    lat, lon = _points(rng, 100)
    path = _write(tmp_path / "excel.csv", ["latitude", "longitude", "date"],
                  [[a, b, f"{v:.6f}"] for a, b, v in zip(lat, lon, serials)])
    reading, occurred, rejections, _ = _read(path)
    assert rejections == []
    assert _local(occurred) == [s.strftime("%Y-%m-%d %H:%M") for s in stamps]
    assert any("100 dates were Excel serial numbers" in w for w in reading.warnings())


def test_daylight_saving_repeated_and_skipped_hours(tmp_path):
    rng = np.random.default_rng(10)
    # Chicago 2024: clocks went forward at 02:00 on 10 March and back at 02:00 on 3 November.
    repeated = [f"2024-11-03 01:{m:02d}" for m in rng.integers(0, 60, 7)]
    skipped = [f"2024-03-10 02:{m:02d}" for m in rng.integers(0, 60, 4)]
    ordinary = [s.strftime("%Y-%m-%d %H:%M") for s in _stamps(rng, 50) if s.month not in (3, 11)]
    values = repeated + skipped + ordinary
    path = _write(tmp_path / "dst.csv", ["latitude", "longitude", "date"], [[17.3, -62.7, v] for v in values])
    reading, occurred, rejections, _ = _read(path, timezone=CHICAGO)
    assert rejections == []
    utc = occurred.dt.tz_convert("UTC")
    # The first 01:xx of 3 November is daylight time (UTC-5); a skipped 02:xx is moved forward to 03:xx CDT.
    assert [t.strftime("%H:%M") for t in utc[:7]] == [f"06:{v[-2:]}" for v in repeated]
    assert [t.strftime("%H:%M") for t in occurred[7:11].dt.tz_convert(CHICAGO)] == [f"03:{v[-2:]}" for v in skipped]
    warnings = reading.warnings()
    assert any(w.startswith("7 local times in the hour repeated") for w in warnings)
    assert any(w.startswith("4 local times in the hour skipped") for w in warnings)


def test_identical_rows_get_occurrence_numbers_and_keep_the_old_first_id(tmp_path):
    rng = np.random.default_rng(11)
    lat, lon = _points(rng, 40)
    rows = [[f"{a:.5f}", f"{b:.5f}", "2024-02-01 10:00", "Theft"] for a, b in zip(lat, lon)]
    repeats = [rows[i] for i in rng.integers(0, 40, 25)]
    path = _write(tmp_path / "repeats.csv", ["latitude", "longitude", "date", "category"], rows + repeats)
    _, _, _, batches = _read(path, chunk_rows=17)
    ids = np.concatenate([b.external_id for b in batches])
    assert len(ids) == 65 and len(set(ids)) == 65
    assert sum("#" in i for i in ids) == 25
    assert all(i.startswith("sha1:") and "#" not in i for i in ids[:40])  # the first of each: the id used before


def test_a_late_ambiguous_date_after_iso_rows_is_rejected_never_guessed(tmp_path):
    rng = np.random.default_rng(12)
    stamps = _stamps(rng, 2500)
    rows = [[17.3, -62.7, s.strftime("%Y-%m-%d %H:%M")] for s in stamps]
    rows[2200][2], rows[2300][2] = "03/04/2024", "25/03/2024"  # past the first 2,000 rows read to choose
    path = _write(tmp_path / "late.csv", ["latitude", "longitude", "date"], rows)
    reading, occurred, rejections, _ = _read(path, chunk_rows=1000)
    assert reading.date_order.day_first is None
    assert [(r.row, r.reason) for r in rejections] == [
        (2202, "date '03/04/2024' could be day/month or month/day: import again saying which (day_first)")]
    assert "2024-03-25 00:00" in _local(occurred)  # 25/03 proves its own order
