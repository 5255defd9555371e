"""The command line against its own throwaway database (the CLI commits, so it cannot share
the rolled-back test transaction)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


HOTSPOTS = str(Path(sys.executable).parent / "hotspots")


@pytest.fixture(scope="module")
def cli_env(committed_database) -> dict[str, str]:
    return {**os.environ, "HOTSPOTS_DATABASE_URL": committed_database}


def _hotspots(env, *args, expect: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([HOTSPOTS, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == expect, done.stdout + done.stderr
    return done


def test_users_create_prints_a_token_once(cli_env):
    token = _hotspots(cli_env, "users", "create", "planner-1", "--role", "analyst").stdout.strip()
    assert token.startswith("hs_") and len(token) > 30
    again = _hotspots(cli_env, "users", "create", "planner-1", "--role", "analyst", expect=1)
    assert "already exists" in again.stderr + again.stdout


def test_incident_import_reports_rejections_and_duplicates(cli_env, shared_data):
    path = shared_data / "chicago" / "chicago_crimes_2012_10k.csv"
    first = _hotspots(cli_env, "incidents", "import", str(path), "--source", "chicago",
                      "--timezone", "America/Chicago", "--no-progress").stdout
    assert "10,000 rows read" in first and "87 rejected" in first
    assert "missing coordinates" in first
    second = _hotspots(cli_env, "incidents", "import", str(path), "--source", "chicago", "--no-progress").stdout
    assert "0 inserted" in second and "9,913 duplicates" in second


def test_refused_file_exits_2_with_a_message(cli_env, tmp_path):
    path = tmp_path / "nothing.csv"
    path.write_text("a,b\n1,2\n")
    done = _hotspots(cli_env, "incidents", "import", str(path), "--no-progress", expect=2)
    assert "Could not find the latitude" in done.stderr


def test_boundaries_then_analysis_prints_the_ranking(cli_env, tmp_path):
    listed = _hotspots(cli_env, "boundaries", "import", "--sample", "--activate").stdout
    assert "14 communities (active)" in listed
    rng = np.random.default_rng(3)
    path = tmp_path / "kna.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        for i in range(600):
            if i < 250:
                lat, lon = 17.2955 + rng.normal(0, 0.002), -62.7261 + rng.normal(0, 0.002)
            else:
                lat, lon = rng.uniform(17.2, 17.4), rng.uniform(-62.85, -62.65)
            writer.writerow([f"k{i}", f"{lat:.6f}", f"{lon:.6f}", "2024-06-01 10:00", "Drugs"])
    _hotspots(cli_env, "incidents", "import", str(path), "--source", "kna", "--no-progress")
    out = _hotspots(cli_env, "analyses", "run", "--all", "--resolution", "9", "--permutations", "99",
                    "--seed", "5").stdout
    assert "completed" in out and "seed 5" in out and "significance: exact-conditional" in out
    first_row = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "Saint George Basseterre" in first_row
    old = _hotspots(cli_env, "analyses", "run", "--all", "--resolution", "9", "--inference", "analytic",
                    "--seed", "5").stdout
    assert "significance: analytic normal p" in old
    bad = _hotspots(cli_env, "analyses", "run", "--community", "Atlantis", expect=2)
    assert "Atlantis" in bad.stderr


def test_an_emerging_run_from_the_command_line_finds_a_hot_spot_new_in_the_last_month(cli_env, tmp_path):
    _hotspots(cli_env, "boundaries", "import", "--sample", "--activate")
    rng = np.random.default_rng(8)
    path = tmp_path / "year.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "latitude", "longitude", "date", "category"])
        for i in range(1200):  # a year of background over St Kitts, then a cluster in December only
            if i < 120:
                lat, lon, month = 17.2955 + rng.normal(0, 0.0015), -62.7261 + rng.normal(0, 0.0015), 12
            else:
                lat, lon, month = rng.uniform(17.2, 17.4), rng.uniform(-62.85, -62.65), int(rng.integers(1, 13))
            writer.writerow([f"e{i}", f"{lat:.6f}", f"{lon:.6f}", f"2023-{month:02d}-{int(rng.integers(1, 28)):02d} 10:00",
                             "Burglary"])
    # 2023: the module's other tests import incidents in 2024 into the same database
    _hotspots(cli_env, "incidents", "import", str(path), "--source", "year", "--no-progress")
    out = _hotspots(cli_env, "analyses", "run", "--all", "--resolution", "8", "--kind", "emerging", "--step", "month",
                    "--start", "2023-01-01", "--end", "2024-01-01", "--seed", "5").stdout
    assert "completed" in out and "12 months (2023-01 to 2023-12)" in out, out
    assert "New hot spot" in out, out
    first_row = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "Saint George Basseterre" in first_row
    short = _hotspots(cli_env, "analyses", "run", "--all", "--kind", "emerging", "--step", "quarter",
                      "--start", "2023-01-01", "--end", "2024-01-01", expect=2)
    assert "at least 10 whole quarters" in short.stderr


def test_sensitive_terms_from_the_command_line_are_audited(cli_env, committed_database, tmp_path):
    """Categories are classed at import; an admin term reclasses them; every change is audited."""
    import psycopg

    path = tmp_path / "categories.csv"
    path.write_text("id,latitude,longitude,date,category\n" + "".join(
        f"c{i},17.30,-62.72,2024-03-0{1 + i % 3} 10:00,{c}\n"
        for i, c in enumerate(["CRIM SEXUAL ASSAULT", "BATTERY", "ASSAULT", "GAMBLING"])))
    imported = _hotspots(cli_env, "incidents", "import", str(path), "--source", "categories", "--no-progress")
    assert "4 inserted" in imported.stdout, imported.stdout
    listed = _hotspots(cli_env, "sensitive", "list").stdout
    assert "S CRIM SEXUAL ASSAULT" in listed and "  BATTERY" in listed
    assert "? ASSAULT" not in listed  # a word of "indecent assault" alone is no near miss
    added = _hotspots(cli_env, "sensitive", "add", "Gambling").stdout
    assert '"term": "gambling"' in added
    assert "S ROBBERY" not in _hotspots(cli_env, "sensitive", "list").stdout
    refused = _hotspots(cli_env, "sensitive", "remove", "rape", expect=2)
    assert "shipped" in refused.stderr
    _hotspots(cli_env, "sensitive", "remove", "gambling")
    with psycopg.connect(committed_database.replace("postgresql+psycopg://", "postgresql://")) as conn:
        actions = conn.execute("SELECT action, outcome FROM audit_events WHERE action LIKE 'sensitive_term.%' "
                               "ORDER BY id").fetchall()
    assert actions == [("sensitive_term.add", "ok"), ("sensitive_term.remove", "refused"),
                       ("sensitive_term.remove", "ok")]
