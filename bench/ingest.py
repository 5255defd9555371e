"""Ingest benchmark: 1,000,000 seeded synthetic incidents.

(a) the physical baseline: a raw COPY of the same CSV into a bare table with the
    same indexes (GiST on the point, time, category, unique id);
(b) ``hotspots incidents import`` end to end (read, validate, H3, de-duplicate, COPY).

Prints both times, their ratio and the importer's peak memory, and writes
bench/results/ingest.json. Targets: ratio <= 1.5, peak RSS < 1 GB.

    .venv/bin/python bench/ingest.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, fresh_database, write_result  # noqa: E402

CATEGORIES = ["Theft", "Burglary", "Assault", "Robbery", "Drugs", "Vandalism", "Firearm offence"]


def synthetic_csv(path: Path, rows: int, seed: int = 20261124) -> Path:
    """Incidents clustered around a few towns of St Kitts and Nevis, one year."""
    if path.exists() and path.stat().st_size > 0 and path.with_suffix(".rows").read_text() == str(rows):
        return path
    rng = np.random.default_rng(seed)
    towns = np.array([[17.2955, -62.7261], [17.3580, -62.8420], [17.1385, -62.6230], [17.3370, -62.7500]])
    which = rng.integers(0, len(towns), rows)
    lat = towns[which, 0] + rng.normal(0, 0.02, rows)
    lon = towns[which, 1] + rng.normal(0, 0.02, rows)
    seconds = rng.integers(0, 365 * 86400, rows)
    stamps = (np.datetime64("2025-01-01T00:00:00") + seconds.astype("timedelta64[s]")).astype(str)
    category = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write("id,date,category,latitude,longitude,description\n")
        for start in range(0, rows, 100_000):
            stop = min(start + 100_000, rows)
            lines = [
                f"SYN{i:08d},{stamps[i]},{category[i]},{lat[i]:.6f},{lon[i]:.6f},synthetic incident {i % 97}\n"
                for i in range(start, stop)
            ]
            out.writelines(lines)
    path.with_suffix(".rows").write_text(str(rows))
    return path


BASELINE_DDL = """
DROP TABLE IF EXISTS bench_raw;
CREATE TABLE bench_raw (
    external_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    category text,
    latitude double precision,
    longitude double precision,
    description text,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)) STORED
);
CREATE UNIQUE INDEX ON bench_raw (external_id);
CREATE INDEX ON bench_raw USING gist (geom);
CREATE INDEX ON bench_raw (occurred_at);
CREATE INDEX ON bench_raw (category);
"""


def raw_copy(url: str, csv_path: Path) -> float:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute(BASELINE_DDL)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "COPY bench_raw (external_id, occurred_at, category, latitude, longitude, description) "
            "FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy, csv_path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return elapsed


def hotspots_import(url: str, csv_path: Path) -> tuple[float, float, str]:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url, "HOTSPOTS_TIMEZONE": "America/St_Kitts"}
    command = [str(Path(sys.executable).parent / "hotspots"), "incidents", "import", str(csv_path),
               "--source", "bench", "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb / 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    csv_path = synthetic_csv(DATA / f"synthetic_{args.rows}.csv", args.rows)
    url = fresh_database("hotspots_bench_ingest")
    raw = raw_copy(url, csv_path)
    ours, peak_mb, summary = hotspots_import(url, csv_path)
    ratio = ours / raw
    print(f"rows:                        {args.rows:,}")
    print(f"raw COPY + indexes:          {raw:7.2f} s  ({args.rows / raw:,.0f} rows/s)")
    print(f"hotspots incidents import:   {ours:7.2f} s  ({args.rows / ours:,.0f} rows/s)")
    print(f"ratio (import / raw):        {ratio:7.2f}   target <= 1.5")
    print(f"importer peak RSS:           {peak_mb:7.0f} MB target < 1024 MB")
    print(f"importer said: {summary}")
    path = write_result("ingest", {
        "rows": args.rows, "raw_copy_s": round(raw, 3), "import_s": round(ours, 3), "ratio": round(ratio, 3),
        "import_peak_rss_mb": round(peak_mb, 1), "targets": {"ratio": 1.5, "peak_rss_mb": 1024},
        "importer_summary": summary,
    })
    print(f"written to {path}")


if __name__ == "__main__":
    main()
