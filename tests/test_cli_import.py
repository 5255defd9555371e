"""``hotspots incidents import --dry-run`` and ``hotspots incidents undo`` against a database of their own
(the command line commits). The files are made here."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import psycopg
import pytest

from tests.test_cli import _hotspots


@pytest.fixture(scope="module")
def cli_env(committed_database) -> dict[str, str]:
    import os

    return {**os.environ, "HOTSPOTS_DATABASE_URL": committed_database}


def _digest(url: str) -> str:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = [conn.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
                             ).fetchone()[0] for table in ("incidents", "imports", "audit_events")]
    return hashlib.sha256("".join(rows).encode()).hexdigest()


def _file(path, seed: int, day_first: bool):
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["latitude", "longitude", "date", "time", "type", "offense"])
        for i in range(200):
            day, month = 1 + i % 28, 1 + i % 12
            date = f"{day:02d}/{month:02d}/2024" if day_first else f"{month:02d}/{day:02d}/2024"
            writer.writerow([f"{rng.uniform(17.2, 17.4):.6f}", f"{rng.uniform(-62.85, -62.65):.6f}", date,
                             f"{i % 24:02d}:{i % 60:02d}", rng.choice(["dr", "st"]), rng.choice(["Theft", "Drugs"])])
    return path


def test_dry_run_prints_the_mapping_and_writes_nothing_then_undo(cli_env, tmp_path):
    path = _file(tmp_path / "cad.csv", seed=1, day_first=True)
    url = cli_env["HOTSPOTS_DATABASE_URL"]
    before = _digest(url)
    preview = _hotspots(cli_env, "incidents", "import", str(path), "--source", "cad", "--dry-run",
                        "--no-progress").stdout
    assert _digest(url) == before
    assert "dry run (nothing written): 200 rows read, 200 would be inserted" in preview
    assert "category      'offense'" in preview and "not category: 'type' (looks like street types" in preview
    assert "occurred_time 'time': times of day, combined with the dates of 'date'" in preview
    assert "dates: day/month/year (day/month/year: " in preview
    assert preview.count("  row ") >= 10  # the first rows as they would be stored

    imported = _hotspots(cli_env, "incidents", "import", str(path), "--source", "cad", "--no-progress").stdout
    assert "200 inserted" in imported and "category      'offense'" in imported  # the mapping it used
    import_id = int(imported.split()[1].rstrip(":"))
    undone = _hotspots(cli_env, "incidents", "undo", str(import_id)).stdout
    assert f"import {import_id} undone: 200 incidents removed" in undone
    again = _hotspots(cli_env, "incidents", "undo", str(import_id), expect=2)
    assert "already undone" in again.stderr
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        outcomes = [r[0] for r in conn.execute(
            "SELECT outcome FROM audit_events WHERE action = 'incidents.import.undo' ORDER BY id")]
    assert outcomes == ["ok", "refused"]
    reimported = _hotspots(cli_env, "incidents", "import", str(path), "--source", "cad", "--month-first",
                           "--no-progress", expect=0).stdout
    assert "dates: month/day/year (month/day/year, as asked)" in reimported
    assert "rejected" in reimported  # 13/01/2024 and later cannot be month-first: rejected, never swapped


def test_all_ambiguous_file_is_refused_with_the_fix(cli_env, tmp_path):
    path = tmp_path / "ambiguous.csv"
    rows = "".join(f"17.3,-62.7,0{1 + i % 9}/1{i % 3}/2024\n" for i in range(30))
    path.write_text("latitude,longitude,date\n" + rows)
    done = _hotspots(cli_env, "incidents", "import", str(path), "--no-progress", expect=2)
    assert "--day-first or --month-first" in done.stderr
