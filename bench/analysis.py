"""Analysis benchmark: 1,000,000 incidents over ~700 km², H3 resolution 10, 999 permutations.

Times one hotspot run end to end (count query, grid, weights, Gi*, local and
global Moran, FDR, storing the cells) and, in the same process on the same
arrays, bare esda calls (G_Local star, Moran_Local, Moran; n_jobs=1,
keep_simulations=False, seeded). Prints both, their ratio and the peak memory
of the run, and writes bench/results/analysis.json.
Targets: end to end <= 1.3x bare esda; peak RSS < 1.5 GB.

    .venv/bin/python bench/analysis.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, fresh_database, write_result  # noqa: E402
from spatial.synthetic import write_synthetic_csv  # noqa: E402

# ~26.7 km x 26.6 km (about 710 km2) over St Kitts and Nevis and the sea between, cut into
# 4 x 4 synthetic square communities.
SOUTH, NORTH, WEST, EAST = 17.13, 17.37, -62.83, -62.58
SEED = 20261124


def communities_geojson(path: Path) -> Path:
    features = []
    rows, cols = 4, 4
    for r in range(rows):
        for c in range(cols):
            s = SOUTH + (NORTH - SOUTH) * r / rows
            n = SOUTH + (NORTH - SOUTH) * (r + 1) / rows
            w = WEST + (EAST - WEST) * c / cols
            e = WEST + (EAST - WEST) * (c + 1) / cols
            features.append({"type": "Feature", "properties": {"name": f"Zone {r * cols + c + 1:02d}"},
                             "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def load(url: str, rows: int) -> None:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    hotspots = str(Path(sys.executable).parent / "hotspots")
    boundaries = communities_geojson(DATA / "bench_zones.geojson")
    subprocess.run([hotspots, "boundaries", "import", str(boundaries), "--activate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    csv_path = DATA / f"analysis_{rows}.csv"
    marker = csv_path.with_suffix(".rows")
    if not (csv_path.exists() and marker.exists() and marker.read_text() == str(rows)):
        write_synthetic_csv(csv_path, rows, SEED, background_share=0.5)
        marker.write_text(str(rows))
    subprocess.run([hotspots, "incidents", "import", str(csv_path), "--source", "bench", "--no-progress"],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def run_ours(url: str) -> tuple[float, dict, object]:
    from app.db import make_engine, make_sessionmaker
    from app.services import analyses
    from app.settings import Settings
    from app.store import hotspots as run_store

    settings = Settings(database_url=url, statement_timeout_ms=0)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        request = analyses.AnalysisRequest(resolution=10, permutations=999, seed=SEED)
        run_id = analyses.submit(session, request, settings=settings, user_id=None)
        started = time.perf_counter()
        analyses.execute(session, run_id)
        elapsed = time.perf_counter() - started
        run = run_store.get_run(session, run_id)
    engine.dispose()
    if run is None or not run.completed:
        raise SystemExit(f"run failed: {run and run.error}")
    return elapsed, dict(run.provenance.document), run


def arrays_for_esda(url: str, provenance: dict):
    """The same grid and counts the run used, rebuilt outside the timed section."""
    import shapely
    from sqlalchemy import create_engine

    from app.store import hotspots as run_store
    from spatial.grid import cover_communities
    from spatial.hotspots import counts_on_grid
    from spatial.weights import h3_neighbours, to_libpysal
    from sqlalchemy.orm import Session

    engine = create_engine(url)
    with Session(engine) as session:
        shapes = run_store.community_shapes(session, provenance["boundary_set_id"], None)
        polygons = shapely.from_wkb([s["wkb"] for s in shapes])
        grid = cover_communities(polygons, [s["id"] for s in shapes], 10)
        cells, counted = run_store.counts_per_cell(session, resolution=10, bbox=tuple(shapely.total_bounds(polygons)),
                                                   start=None, end=None, categories=[], sources=[])
    engine.dispose()
    y = counts_on_grid(grid.cells, cells, counted).astype(float)
    graph = h3_neighbours(grid.cells, k=1)
    return y, to_libpysal(graph, "b"), to_libpysal(graph, "r")


def run_esda(y, w_binary, w_row) -> dict[str, float]:
    import esda

    timings = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        esda.G_Local(y, w_binary, transform="B", star=True, permutations=999, n_jobs=1,
                     keep_simulations=False, seed=SEED)
        timings["gi_star"] = time.perf_counter() - started
        started = time.perf_counter()
        esda.Moran_Local(y, w_row, permutations=999, n_jobs=1, keep_simulations=False, seed=SEED)
        timings["local_moran"] = time.perf_counter() - started
        started = time.perf_counter()
        esda.Moran(y, w_row, permutations=999)
        timings["moran_global"] = time.perf_counter() - started
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    url = fresh_database("hotspots_bench_analysis")
    load(url, args.rows)
    ours, provenance, _ = run_ours(url)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    y, w_binary, w_row = arrays_for_esda(url, provenance)
    esda_times = run_esda(y, w_binary, w_row)
    bare = sum(esda_times.values())
    ratio = ours / bare
    print(f"cells:                       {provenance['cells']:,} (resolution 10), "
          f"incidents used {provenance['incidents_used']:,}")
    print(f"hotspots run end to end:     {ours:7.2f} s  {provenance['timings_s']}")
    print(f"bare esda (Gi*+LISA+Moran):  {bare:7.2f} s  { {k: round(v, 2) for k, v in esda_times.items()} }")
    print(f"ratio (ours / bare esda):    {ratio:7.2f}   target <= 1.3")
    print(f"peak RSS of the run:         {peak_mb:7.0f} MB target < 1536 MB")
    path = write_result("analysis", {
        "rows": args.rows, "cells": provenance["cells"], "incidents_used": provenance["incidents_used"],
        "permutations": 999, "end_to_end_s": round(ours, 3), "stages_s": provenance["timings_s"],
        "esda_s": {k: round(v, 3) for k, v in esda_times.items()}, "esda_total_s": round(bare, 3),
        "ratio": round(ratio, 3), "peak_rss_mb": round(peak_mb, 1),
        "targets": {"ratio": 1.3, "peak_rss_mb": 1536},
    })
    print(f"written to {path}")


if __name__ == "__main__":
    main()
