"""Calibration and power of the hot-spot classes on random fields (issue: honest significance).

Null fields: counts drawn independently for every cell (Poisson at a fixed mean,
no clustering at all; and a continuous Gamma field). Under this complete null,
Benjamini–Hochberg at alpha = 0.05 should give any 95 % discovery in at most
5 % of fields. For each grid and density we report the share of fields with at
least one FDR-significant cell of each kind (Gi* hot and cold at 95 %, Gi* at
90 %, each LISA label), with a 95 % Clopper–Pearson interval, and the per-cell
false-positive rate without FDR (raw two-sided p < 0.05).

Planted fields: a cluster of 7 (a cell and its ring) or 19 cells (two rings) at
3x or 5x the background mean; detection = at least one planted cell is a 95 %
hot spot.

Grids: the St Kitts and Nevis parishes at H3 resolutions 8, 9 and 10, and a
50 x 50 rectangular lattice (queen neighbours: corners 3, edges 5, inside 8).

The default (conditional, exact) inference is compared with the analytic p as
ArcGIS uses it on the same fields. Every field is seeded; the seeds are written
with the results. Prints a table and writes bench/results/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import h3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spatial.grid import cover_communities, polygons_from_geojson  # noqa: E402
from spatial.outcomes.accuracy import clopper_pearson as exact_share_interval  # noqa: E402
from spatial.hotspots import AnalysisParameters, local_statistics  # noqa: E402
from spatial.weights import NeighbourGraph, graph_from_csr, h3_neighbours  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "calibration.json"
PARISHES = ROOT / "app" / "data" / "kna_parishes.geojson"
DENSITIES = (0.05, 0.1, 0.3, 1.0, 5.0, 50.0)
LISA = ("High-High", "Low-Low", "High-Low", "Low-High")
ALPHA = 0.05


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for a share, rounded for the results file."""
    interval = exact_share_interval(hits, n, level)
    return round(interval.low, 4), round(interval.high, 4)


def lattice(side: int) -> tuple[NeighbourGraph, np.ndarray]:
    """A side x side rectangular grid with queen neighbours; positions for planting."""
    rows, cols = np.divmod(np.arange(side * side), side)
    lists = []
    for r, c in zip(rows, cols):
        lists.append([rr * side + cc for rr in range(r - 1, r + 2) for cc in range(c - 1, c + 2)
                      if (rr, cc) != (r, c) and 0 <= rr < side and 0 <= cc < side])
    indptr = np.r_[0, np.cumsum([len(x) for x in lists])]
    return graph_from_csr(indptr, np.concatenate(lists).astype(np.int32), side * side), np.c_[rows, cols]


def grids() -> dict[str, dict]:
    polygons, _ = polygons_from_geojson(PARISHES)
    out = {}
    for resolution in (8, 9, 10):
        grid = cover_communities(polygons, list(range(1, len(polygons) + 1)), resolution)
        out[f"KNA parishes, H3 res {resolution}"] = {"graph": h3_neighbours(grid.cells), "cells": grid.cells,
                                                    "kind": "h3"}
    graph, positions = lattice(50)
    out["50 x 50 lattice (queen)"] = {"graph": graph, "positions": positions, "kind": "lattice"}
    return out


def planted_cells(grid: dict, rng, size: int) -> np.ndarray:
    """Positions of a compact cluster of 7 or 19 cells around a random inside cell."""
    graph = grid["graph"]
    rings = 1 if size == 7 else 2
    if grid["kind"] == "h3":
        inside = np.flatnonzero(graph.cardinalities == 6)
        centre = int(grid["cells"][rng.choice(inside)])
        disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), rings)]
        return np.flatnonzero(np.isin(grid["cells"], disk))
    # lattice: a 3x3 block less two opposite corners (7 cells), a 5x5 block less its corners and two
    # more edge cells (19 cells)
    positions = grid["positions"]
    side = positions[:, 0].max() + 1
    r, c = rng.integers(rings, side - rings, size=2)
    dr, dc = positions[:, 0] - r, positions[:, 1] - c
    block = (np.abs(dr) <= rings) & (np.abs(dc) <= rings)
    if size == 7:
        drop = ((dr == -1) & (dc == -1)) | ((dr == 1) & (dc == 1))
    else:
        drop = ((np.abs(dr) == 2) & (np.abs(dc) == 2)) | ((dr == -2) & (dc == -1)) | ((dr == 2) & (dc == 1))
    mask = block & ~drop
    return np.flatnonzero(mask)


def classes(values: np.ndarray, graph, inference: str, seed: int, permutations: int):
    params = AnalysisParameters(seed=seed, permutations=permutations, inference=inference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = local_statistics(values, graph, params)
    return local.fields


def null_figures(grid: dict, draw, fields: int, seed: int, inference: str, permutations: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(("gi_hot_95", "gi_cold_95", "gi_any_90", *LISA), 0)
    raw_positive = tested = used = 0
    for field_no in range(fields):
        values = draw(rng, grid["graph"].n)
        if values.sum() <= 0 or np.ptp(values) == 0:
            continue
        used += 1
        f = classes(values, grid["graph"], inference, seed + field_no, permutations)
        counts["gi_hot_95"] += bool((f["gi_bin"] >= 2).any())
        counts["gi_cold_95"] += bool((f["gi_bin"] <= -2).any())
        counts["gi_any_90"] += bool((f["gi_bin"] != 0).any())
        for label in LISA:
            counts[label] += bool((f["lisa_label"] == label).any())
        p = f["gi_p_sim"] if inference == "conditional" else f["gi_p"]
        ok = ~np.isnan(p)
        raw_positive += int((p[ok] < ALPHA).sum())
        tested += int(ok.sum())
    out = {"fields": used}
    for key, hits in counts.items():
        out[key] = {"share": round(hits / used, 4) if used else None, "interval": clopper_pearson(hits, used)}
    out["cell_false_positive_rate_without_fdr"] = round(raw_positive / tested, 5) if tested else None
    return out


def planted_figures(grid: dict, mean: float, factor: float, size: int, fields: int, seed: int,
                    inference: str) -> dict:
    rng = np.random.default_rng(seed)
    found = 0
    for field_no in range(fields):
        values = rng.poisson(mean, grid["graph"].n).astype(np.float64)
        planted = planted_cells(grid, rng, size)
        values[planted] = rng.poisson(mean * factor, len(planted))
        f = classes(values, grid["graph"], inference, seed + field_no, 0)
        found += bool((f["gi_bin"][planted] >= 2).any())
    return {"detected": round(found / fields, 4), "interval": clopper_pearson(found, fields), "fields": fields}


def poisson(mean):
    return lambda rng, n: rng.poisson(mean, n).astype(np.float64)


def gamma(rng, n):
    return rng.gamma(2.0, 0.5, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=200, help="null fields per grid and density")
    parser.add_argument("--planted-fields", type=int, default=100)
    parser.add_argument("--analytic-fields", type=int, default=100, help="null fields for the analytic comparison")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict = {"alpha": ALPHA, "seed": args.seed, "machine": platform.platform(), "null": {}, "planted": {},
                     "analytic_null": {}}
    for name, grid in grids().items():
        print(f"\n== {name}: {grid['graph'].n} cells ==")
        print(f"{'null field':>14} {'fields':>6} {'Gi* hot 95%':>20} {'Gi* cold 95%':>20} {'Gi* 90%':>16} "
              f"{'HH':>7} {'LL':>7} {'HL':>7} {'LH':>7} {'cell FPR':>9}")
        results["null"][name] = {}
        for index, (label, draw) in enumerate([*[(f"Poisson {m:g}", poisson(m)) for m in DENSITIES],
                                               ("Gamma(2, 0.5)", gamma)]):
            figures = null_figures(grid, draw, args.fields, args.seed + 1000 * index, "conditional", 999)
            results["null"][name][label] = figures
            _print_null(label, figures)
        results["analytic_null"][name] = {}
        for index, mean in enumerate((0.3, 1.0, 5.0)):
            figures = null_figures(grid, poisson(mean), args.analytic_fields, args.seed + 7000 + index,
                                   "analytic", 0)
            results["analytic_null"][name][f"Poisson {mean:g}"] = figures
            _print_null(f"analytic {mean:g}", figures)
        results["planted"][name] = {}
        print(f"{'planted':>14} {'3x, 7':>14} {'5x, 7':>14} {'3x, 19':>14} {'5x, 19':>14}")
        for mean in (0.3, 1.0, 5.0):
            row = {}
            for size in (7, 19):
                for factor in (3, 5):
                    row[f"{factor}x, {size} cells"] = planted_figures(
                        grid, mean, factor, size, args.planted_fields, args.seed + int(mean * 100) + size + factor,
                        "conditional")
            results["planted"][name][f"background {mean:g}"] = row
            print(f"{'mean ' + format(mean, 'g'):>14} " + " ".join(
                f"{row[k]['detected']:>14.2f}" for k in ("3x, 7 cells", "5x, 7 cells", "3x, 19 cells", "5x, 19 cells")))
    results["targets"] = _targets(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print("\ntargets:", json.dumps(results["targets"], indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    print(f"written {RESULTS.relative_to(ROOT)} in {results['seconds']} s")


def _print_null(label: str, f: dict) -> None:
    def cell(key):
        share, (low, high) = f[key]["share"], f[key]["interval"]
        return f"{share:.3f} [{low:.3f}-{high:.3f}]"

    print(f"{label:>14} {f['fields']:>6} {cell('gi_hot_95'):>20} {cell('gi_cold_95'):>20} "
          f"{f['gi_any_90']['share']:>16.3f} " + " ".join(f"{f[k]['share']:>7.3f}" for k in LISA)
          + f" {f['cell_false_positive_rate_without_fdr']:>9.4f}")


def _targets(results: dict) -> dict:
    """Null shares at 95 % <= 5 % within Monte Carlo error; 5x clusters of 7 at mean 1 found >= 90 %."""
    worst = max(((grid, label, key, f[key]["share"], f[key]["interval"][0])
                 for grid, rows in results["null"].items() for label, f in rows.items()
                 for key in ("gi_hot_95", "gi_cold_95", *LISA)), key=lambda x: x[3])
    detection = {grid: rows["background 1"]["5x, 7 cells"]["detected"] for grid, rows in results["planted"].items()}
    return {
        "null_share_at_most_5_percent": bool(all(
            f[key]["interval"][0] <= 0.05 for rows in results["null"].values() for f in rows.values()
            for key in ("gi_hot_95", "gi_cold_95", *LISA))),
        "worst_null_share": {"grid": worst[0], "field": worst[1], "class": worst[2], "share": worst[3],
                             "interval_low": worst[4]},
        "planted_5x_7_cells_mean_1_detected": detection,
        "planted_target_met": bool(all(v >= 0.9 for v in detection.values())),
    }


if __name__ == "__main__":
    main()
