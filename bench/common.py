"""Shared helpers for the benchmarks: a throwaway migrated database, result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "bench" / "data"
DATA.mkdir(parents=True, exist_ok=True)  # generated inputs; not in git (a fresh clone has none)
ADMIN_URL = os.environ.get("HOTSPOTS_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> str:
    """Drop and create ``name``, migrate it, and return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    subprocess.run([str(Path(sys.executable).parent / "hotspots"), "db", "upgrade", "head"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return url


def write_result(name: str, figures: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = {
        "benchmark": name,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
