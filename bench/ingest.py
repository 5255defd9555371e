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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, fresh_database, write_result  # noqa: E402
from spatial.synthetic import write_synthetic_csv  # noqa: E402

def synthetic_csv(path: Path, rows: int, seed: int = 20261124) -> Path:
    """Seeded synthetic incidents (spatial/synthetic.py), written once and reused."""
    marker = path.with_suffix(".rows")
    if path.exists() and marker.exists() and marker.read_text() == f"{rows}:{seed}":
        return path
    write_synthetic_csv(path, rows, seed)
    marker.write_text(f"{rows}:{seed}")
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
