"""Embedded SQLite against PostGIS: the figures behind "when to move to PostGIS" in the README.

The same work on each backend, in this process, one after the other: import
SYNTHETIC incidents (one file, one transaction), one resolution-10 analysis
over ~800 km² (16 square zones, ~68,000 cells, 99 permutations), then
uncached hotspot tiles at z10, z12 and z14 through the whole app (TestClient,
one request at a time, tile cache off; the first low-zoom tile, which builds
the run's coarser parents once, timed apart), and the database size.

    .venv/bin/python bench/embedded.py [--incidents 200000]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import fresh_database, write_result  # noqa: E402
from bench.map_page import EAST, NORTH, SEED, SOUTH, WEST, zones  # noqa: E402


def tiles_at(z: int, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` tiles of zoom ``z`` over the zones, spread evenly."""
    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2**z
        return (int((lon + 180) / 360 * n),
                int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
    (x0, y0), (x1, y1) = tile(WEST, NORTH), tile(EAST, SOUTH)
    every = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    step = max(1, len(every) // count)
    return every[::step][:count]


def database_url(backend: str, folder: Path) -> str:
    if backend == "postgis":
        return fresh_database("hotspots_bench_embedded")
    from alembic import command

    from app.cli import alembic_config

    url = f"sqlite:///{folder / 'bench.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    return url


def size_mb(session, backend: str, folder: Path) -> float:
    from sqlalchemy import text

    if backend == "postgis":
        return session.execute(text("SELECT pg_database_size(current_database())")).scalar_one() / 1e6
    return sum(p.stat().st_size for p in folder.glob("bench.sqlite*")) / 1e6


def measure(backend: str, incidents: int, folder: Path) -> dict:
    from fastapi.testclient import TestClient

    from app.db import make_engine, make_sessionmaker
    from app.main import create_app
    from app.services import analyses
    from app.services.accounts import create_user_with_token
    from app.services.boundaries import BoundaryOptions, upload_boundary_set
    from app.services.incident_import import import_incidents
    from app.settings import Settings
    from app.store import hotspots as run_store
    from spatial.incidents_io import ReadOptions
    from spatial.synthetic import write_synthetic_csv

    url = database_url(backend, folder)
    settings = Settings(database_url=url, statement_timeout_ms=0, tile_cache_mb=0, analysis_worker="inline")
    engine = make_engine(settings)
    figures: dict = {}
    with make_sessionmaker(engine)() as session:
        boundaries = zones(folder / "zones.geojson")
        upload_boundary_set(session, boundaries, original_name=boundaries.name,
                            options=BoundaryOptions(name="bench zones", activate=True),
                            service_area=None, max_bytes=settings.max_upload_bytes)
        session.commit()
        csv_path = folder / "incidents.csv"
        if not csv_path.exists():
            write_synthetic_csv(csv_path, incidents, SEED, background_share=0.5)
        started = time.perf_counter()
        report = import_incidents(session, csv_path, filename="SYNTHETIC bench incidents", source="SYNTHETIC-bench",
                                  options=ReadOptions(timezone=settings.zone))
        figures["import_s"] = round(time.perf_counter() - started, 2)
        figures["import_rows_per_s"] = round(report.inserted / figures["import_s"])
        started = time.perf_counter()
        run_id = analyses.submit(session, analyses.AnalysisRequest(resolution=10, permutations=99, seed=SEED),
                                 settings=settings, user_id=None)
        analyses.execute(session, run_id)
        figures["analysis_s"] = round(time.perf_counter() - started, 2)
        figures["cells"] = run_store.get_run(session, run_id).provenance.cells
        token = create_user_with_token(session, "bench-analyst", "analyst")
        session.commit()
        figures["database_mb"] = round(size_mb(session, backend, folder), 1)
    app = create_app(settings, engine=engine, start_worker=False)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        # The first low-zoom tile of a run builds its coarser parents once; time that apart.
        x, y = tiles_at(9, 1)[0]
        started = time.perf_counter()
        client.get(f"/tiles/hotspots/9/{x}/{y}.mvt", params={"run": run_id}, headers=headers)
        figures["first_low_zoom_tile_ms"] = round((time.perf_counter() - started) * 1000, 1)
        for z in (10, 12, 14):
            times = []
            for x, y in tiles_at(z, 40):
                started = time.perf_counter()
                response = client.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"run": run_id}, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code in (200, 204), response.text
            figures[f"tile_z{z}_median_ms"] = round(statistics.median(times), 1)
            figures[f"tile_z{z}_max_ms"] = round(max(times), 1)
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=200_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hotspots-bench-embedded-") as folder:
        for backend in ("postgis", "sqlite"):
            results[backend] = measure(backend, args.incidents, Path(folder))
            print(backend, results[backend], flush=True)
    ratios = {key: round(results["sqlite"][key] / results["postgis"][key], 2)
              for key in results["sqlite"] if key.endswith(("_s", "_ms")) and not key.endswith("per_s") and results["postgis"][key]}
    print("sqlite / postgis:", ratios)
    path = write_result("embedded", {"incidents": args.incidents, **results, "sqlite_over_postgis": ratios})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
