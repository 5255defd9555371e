"""Killing the importer with SIGKILL part-way leaves no row of that import; running it
again imports every row once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from spatial.synthetic import write_synthetic_csv

HOTSPOTS = str(Path(sys.executable).parent / "hotspots")
ROWS = 300_000


def _count(dsn: str, source: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM incidents WHERE source = %s", (source,)).fetchone()[0]


def _rows_copied(dsn: str) -> int:
    """Rows the import's COPY has sent so far (0 when none is running)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(max(p.tuples_processed), 0) FROM pg_stat_progress_copy p "
                           "JOIN pg_database d ON d.oid = p.datid WHERE d.datname = current_database()").fetchone()
    return row[0]


def _copy_running(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY incidents%%' "
                           "AND state = 'active' AND datname = current_database()").fetchone()
    return row[0] > 0


def test_sigkill_mid_import_leaves_nothing_and_a_rerun_imports_once(committed_database, tmp_path):
    dsn = committed_database.replace("postgresql+psycopg://", "postgresql://")
    path = write_synthetic_csv(tmp_path / "big.csv", ROWS, seed=99)
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": committed_database, "HOTSPOTS_IMPORT_CHUNK_ROWS": "20000"}
    command = [HOTSPOTS, "incidents", "import", str(path), "--source", "crash", "--no-progress"]
    importer = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _rows_copied(dsn) < 40_000:  # well into the import, with rows already at the server
        assert importer.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline, "the import never started its COPY"
        time.sleep(0.02)
    importer.send_signal(signal.SIGKILL)
    importer.wait(timeout=30)
    assert importer.returncode == -signal.SIGKILL

    deadline = time.monotonic() + 30
    while _copy_running(dsn) and time.monotonic() < deadline:  # the server notices the dead client
        time.sleep(0.1)
    assert _count(dsn, "crash") == 0

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{ROWS:,} inserted" in done.stdout
    assert _count(dsn, "crash") == ROWS
