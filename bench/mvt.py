"""Benchmark: spatial/mvt.py encoding a z14 tile of ~2,000 H3 resolution-11 hexagons.

Run from the repository root::

    python bench/mvt.py [--repeat 30]

Encodes the same tile ``--repeat`` times (the Python tile path of the
embedded backend, database reads excluded) and prints the median and best
milliseconds per tile; writes ``bench/results/mvt.json``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import h3
from shapely.geometry import Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_result  # noqa: E402
from spatial.mvt import encode_layer, tile_bounds_lonlat  # noqa: E402

Z, LON, LAT = 14, -62.72, 17.30  # Basseterre, St Kitts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    n = 2**Z
    x, y = int((LON + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n)
    west, south, east, north = tile_bounds_lonlat(Z, x, y)
    search = box(west, south, east, north)
    centre = h3.latlng_to_cell((south + north) / 2, (west + east) / 2, 11)
    features = []
    for i, cell in enumerate(h3.grid_disk(centre, 36)):
        hexagon = Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        if hexagon.intersects(search):  # what a bounding-box query would return
            features.append((hexagon, {"cell": cell, "incidents": i % 9, "gi_bin": i % 7 - 3,
                                       "gi_z": (i % 13) / 3, "community": "Basseterre",
                                       "suppressed": True if i % 9 < 3 else None}))
    features = features[:2000]

    encode_layer("hotspots", features, Z, x, y)  # warm up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        tile = encode_layer("hotspots", features, Z, x, y)
        times.append((time.perf_counter() - start) * 1000)
    figures = {"zoom": Z, "hexagons": len(features), "tile_bytes": len(tile), "repeat": args.repeat,
               "median_ms": round(statistics.median(times), 2), "best_ms": round(min(times), 2)}
    print(figures)
    print("written to", write_result("mvt", figures))


if __name__ == "__main__":
    main()
