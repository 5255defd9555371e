"""Export benchmark: a 68,000-cell run's cells as a GeoPackage, through the formatter and bare.

The cells are synthetic and seeded: H3 resolution 9 hexagons around Basseterre, with the police
columns of a Gi* run (counts, z, p-values, classes, LISA, centres). Each cell is a ``Feature``
with its hexagon as WKB, as ``Runs.iter_cells(geometry=True)`` yields them. In the same run, on
the same cells: the GeoPackage formatter (batches of 10,000 appended, README table, file read
back in pieces as the download streams it) against a bare ``pyogrio.write_dataframe`` of the
same frame, each in a fresh process so each peak RSS is its own. Best of ``--repeat``.
Target: formatter <= 1.3x bare. Then rows made one at a time (as the store streams them), 68,000
and 4 x 68,000 cells: the peak memory stays that of a batch, not of the file.

    .venv/bin/python bench/exports.py [--cells 68000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_result  # noqa: E402

SEED = 20261202
CENTRE = (17.30, -62.72)  # Basseterre
RESOLUTION = 9


def synthetic_cells(n: int, seed: int = SEED) -> tuple[list[str], list[bytes], dict[str, list]]:
    """``n`` contiguous resolution-9 cells with seeded Gi*-run columns (police tier)."""
    import h3
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    origin = h3.latlng_to_cell(*CENTRE, RESOLUTION)
    rings = 1
    while 3 * rings * (rings + 1) + 1 < n:
        rings += 1
    cells = sorted(h3.grid_disk(origin, rings), key=h3.str_to_int)[:n]
    hexagons = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    centres = [h3.cell_to_latlng(c) for c in cells]
    z = rng.normal(size=n)
    p = rng.uniform(size=n)
    columns = {
        "cell": cells,
        "community": [f"Zone {i % 16 + 1:02d}" for i in range(n)],
        "incidents": rng.poisson(3, size=n).tolist(),
        "gi_z": z.tolist(), "gi_p": p.tolist(), "gi_p_sim": rng.uniform(size=n).tolist(),
        "gi_p_fdr": np.minimum(p * 2, 1).tolist(),
        "gi_bin": np.clip(np.round(z), -3, 3).astype(int).tolist(),
        "lisa_i": rng.normal(size=n).tolist(), "lisa_quadrant": rng.integers(1, 5, size=n).tolist(),
        "lisa_p_sim": rng.uniform(size=n).tolist(), "lisa_p_fdr": rng.uniform(size=n).tolist(),
        "lisa_label": rng.choice(["HH", "LL", "HL", "LH", "ns"], size=n).tolist(),
        "centre_lat": [c[0] for c in centres], "centre_lon": [c[1] for c in centres],
    }
    return cells, list(shapely.to_wkb(np.array(hexagons))), columns


def through_formatter(n: int, folder: str, queue) -> None:
    from app.formats import About, Feature, formatter

    _, wkb, columns = synthetic_cells(n)
    names = list(columns)
    rows = [dict(zip(names, values)) for values in zip(*columns.values())]  # as the store yields them
    started = time.perf_counter()
    features = (Feature(row, hexagon) for row, hexagon in zip(rows, wkb))
    about = About("hotspot-run-1-cells", "Hotspot run 1: cells", "synthetic benchmark cells", "police tier")
    size = 0
    with open(Path(folder) / "formatter.gpkg", "wb") as out:
        for piece in formatter("gpkg").write(features, names, about=about):
            size += len(piece)
            out.write(piece)
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "bytes": size, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def bare(n: int, folder: str, queue) -> None:
    import geopandas
    import pyogrio
    import shapely

    _, wkb, columns = synthetic_cells(n)
    frame = geopandas.GeoDataFrame(columns, geometry=shapely.from_wkb(wkb), crs="EPSG:4326")
    started = time.perf_counter()
    pyogrio.write_dataframe(frame, Path(folder) / "bare.gpkg", layer="cells", driver="GPKG")
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "bytes": (Path(folder) / "bare.gpkg").stat().st_size,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def streamed(n: int, folder: str, queue) -> None:
    """Rows made one at a time, as the store streams them: the formatter's own peak memory."""
    import h3
    import shapely

    from app.formats import About, Feature, formatter

    origin = h3.latlng_to_cell(*CENTRE, RESOLUTION)
    rings = 1
    while 3 * rings * (rings + 1) + 1 < n:
        rings += 1

    def rows():
        for i, cell in enumerate(h3.grid_disk(origin, rings)[:n]):
            hexagon = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
            yield Feature({"cell": cell, "incidents": i % 7, "gi_z": i / n, "gi_bin": i % 7 - 3}, shapely.to_wkb(hexagon))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    size = 0
    for piece in formatter("gpkg").write(rows(), ["cell", "incidents", "gi_z", "gi_bin"],
                                         about=About("cells", "streamed cells")):
        size += len(piece)
    queue.put({"cells": n, "seconds": time.perf_counter() - started, "bytes": size, "rss_before_mb": before,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def in_fresh_process(target, n: int, folder: str) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(n, folder, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=68_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"formatter": [], "bare": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            runs["formatter"].append(in_fresh_process(through_formatter, args.cells, folder))
            runs["bare"].append(in_fresh_process(bare, args.cells, folder))
        growth = [in_fresh_process(streamed, cells, folder) for cells in (args.cells, 4 * args.cells)]
    best = {name: min(found, key=lambda r: r["seconds"]) for name, found in runs.items()}
    ratio = best["formatter"]["seconds"] / best["bare"]["seconds"]
    print(f"{args.cells:,} cells as GeoPackage: formatter {best['formatter']['seconds']:.2f} s "
          f"({best['formatter']['peak_rss_mb']:.0f} MB peak), bare pyogrio.write_dataframe "
          f"{best['bare']['seconds']:.2f} s ({best['bare']['peak_rss_mb']:.0f} MB peak): {ratio:.2f}x "
          f"(target <= 1.3x)")
    for found in growth:
        print(f"streamed {found['cells']:,} cells: {found['seconds']:.2f} s, peak RSS {found['peak_rss_mb']:.0f} MB "
              f"({found['rss_before_mb']:.0f} MB before the export)")
    path = write_result("exports", {
        "streamed_rows_peak_memory": growth,
        "cells": args.cells, "seed": SEED, "repeat": args.repeat, "formatter": best["formatter"],
        "bare_write_dataframe": best["bare"], "ratio": round(ratio, 3), "target_ratio": 1.3,
        "all_runs": runs,
    })
    print(f"written {path}")


if __name__ == "__main__":
    main()
