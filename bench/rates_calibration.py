"""Calibration and power of hot spots of risk (rate runs), on null maps with uneven, non-spatial risk.

The rate test of a run, on arrays: the grid of the St Kitts and Nevis parishes at H3 resolution 9
and 8; SYNTHETIC residents laid out two ways: independent from cell to cell, uniform 20 to 200
(seeded), or spread by area from parish totals of 1,000 to 13,000 (seeded; the same in every cell
of a parish, as a run spreads a community's population). Incidents per cell are Poisson with mean
``0.01 x multiplier x residents``. Hot spots: each neighbourhood's incidents against its residents
under a Poisson–gamma null fitted to the data (spatial/rates/risk_inference.py), Benjamini–Hochberg
FDR at 5 %, through the run's own code (spatial.hotspots.local_statistics).

Null maps (no spatial pattern): the multiplier of each cell is 1 (constant risk), or iid Gamma of
shape 4 or shape 1 (mean 1): risk that varies from cell to cell with no pattern. The share of maps
with any 95 % hot or cold spot should be at most 5 % (95 % Clopper–Pearson interval shown). On the
same maps, for comparison: the former test (exact binomial of each neighbourhood under constant
risk), and conditional permutation (sequential Monte Carlo) of Assunção–Reis standardised rates, as
esda's Moran_Local_Rate does (on fewer maps: it is slower).

Planted: risk x3 or x5 on a compact cluster of 19 cells (a cell and two rings), on a constant or a
Gamma-4 background, iid residents; detection = at least one planted cell is a 95 % hot spot; "far" =
a 95 % hot spot more than one ring outside the cluster.

Prints a table and writes bench/results/rates_calibration.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import h3
import numpy as np
from scipy.stats import binom

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spatial.grid import cover_communities, polygons_from_geojson  # noqa: E402
from spatial.hotspots import AnalysisParameters, local_statistics  # noqa: E402
from spatial.outcomes.accuracy import clopper_pearson  # noqa: E402
from spatial.rates.risk import CellRisk, place_residents, risk_null, risk_of_cells  # noqa: E402
from spatial.rates.risk_inference import standardised_rates  # noqa: E402
from spatial.sequential import permutations_for_grid, sequential_tails  # noqa: E402
from spatial.significance import fdr_bh  # noqa: E402
from spatial.weights import h3_neighbours  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "rates_calibration.json"
PARISHES = ROOT / "app" / "data" / "kna_parishes.geojson"
ALPHA = 0.05
RISK = 0.01  # incidents per resident over the period: 0.2 to 2 expected a cell
NULLS = {"constant": None, "Gamma shape 4": 4.0, "Gamma shape 1": 1.0}


def interval(hits: int, n: int) -> list[float]:
    found = clopper_pearson(hits, n, 0.95)
    return [round(found.low, 4), round(found.high, 4)]


def world(resolution: int, seed: int, layout: str) -> dict:
    polygons, properties = polygons_from_geojson(PARISHES)
    grid = cover_communities(polygons, list(range(1, len(polygons) + 1)), resolution)
    rng = np.random.default_rng(seed)
    if layout == "iid":
        residents = rng.uniform(20, 200, len(grid.cells))
    else:
        populations = rng.integers(1_000, 13_001, len(polygons)).astype(float)
        placed = place_residents(polygons, list(populations), [p["shapeName"] for p in properties], resolution)
        residents = risk_of_cells(placed, grid.cells, np.zeros(len(grid.cells))).residents
    return {"cells": grid.cells, "residents": residents, "graph": h3_neighbours(grid.cells)}


def classes(place: dict, counts: np.ndarray, seed: int) -> np.ndarray:
    """Gi_Bin classes of a rate run on these counts, through the run's own code."""
    values = standardised_rates(counts, place["residents"])
    residents = place["residents"]
    risk = CellRisk(per=1000, residents=residents, raw=counts / np.where(residents > 0, residents, np.nan),
                    smoothed=values, standardised=values, overall=float(counts.sum() / residents.sum()),
                    without_residents=0, small_population=0, residents_total=float(residents.sum()))
    params = AnalysisParameters(seed=seed, alpha=ALPHA)
    return local_statistics(values, place["graph"], params, null=risk_null(counts, risk)).fields["gi_bin"]


def permuted_any_spot(place: dict, counts: np.ndarray, seed: int) -> bool:
    """Conditional permutation of Assunção–Reis standardised rates (esda's Moran_Local_Rate's values)."""
    values = standardised_rates(counts, place["residents"])
    tails = sequential_tails(values, place["graph"], seed=seed,
                             permutations=permutations_for_grid(len(values), ALPHA))
    return bool((fdr_bh(tails.p) < 0.05).any())


def binomial_any_spot(place: dict, counts: np.ndarray) -> bool:
    """The former test: each neighbourhood against its share of the residents under constant risk."""
    window = place["graph"].to_sparse(self_weight=1.0)
    window.data[:] = 1.0
    observed = window @ counts.astype(float)
    share = window @ place["residents"] / place["residents"].sum()
    total = int(counts.sum())
    p = np.minimum(1.0, 2 * np.minimum(binom.sf(observed - 1, total, share), binom.cdf(observed, total, share)))
    return bool((fdr_bh(p) < 0.05).any())


def multipliers(rng, n: int, shape: float | None) -> np.ndarray:
    return np.ones(n) if shape is None else rng.gamma(shape, 1.0 / shape, n)


def cluster_of(place: dict, rng) -> tuple[np.ndarray, np.ndarray]:
    cells, graph = place["cells"], place["graph"]
    inside = np.flatnonzero(graph.cardinalities == 6)
    centre = h3.int_to_str(int(cells[rng.choice(inside)]))
    ring = lambda k: np.flatnonzero(np.isin(cells, [h3.str_to_int(c) for c in h3.grid_disk(centre, k)]))  # noqa: E731
    return ring(2), ring(3)


def null_maps(place: dict, rng, fields: int, permuted_fields: int, label: str) -> list[dict]:
    rows, n = [], len(place["cells"])
    for name, shape in NULLS.items():
        hits = old_hits = permuted_hits = 0
        seconds = 0.0
        for field_no in range(fields):
            counts = rng.poisson(RISK * multipliers(rng, n, shape) * place["residents"])
            started = time.perf_counter()
            hits += bool((np.abs(classes(place, counts, seed=field_no)) >= 2).any())
            seconds += time.perf_counter() - started
            old_hits += binomial_any_spot(place, counts)
            if field_no < permuted_fields:
                permuted_hits += permuted_any_spot(place, counts, seed=field_no)
        row = {"grid": label, "cells": n, "null": name, "maps": fields, "maps_with_95_spot": hits,
               "share": round(hits / fields, 4), "interval": interval(hits, fields),
               "former_constant_risk_binomial": f"{old_hits} of {fields}",
               "permuted_standardised_rates": f"{permuted_hits} of {permuted_fields}",
               "seconds_per_map": round(seconds / fields, 4)}
        rows.append(row)
        print(f"{label} ({n} cells), null {name}: {hits}/{fields} maps with a 95 % spot {row['interval']}; "
              f"former binomial {old_hits}/{fields}; permuted standardised rates {permuted_hits}/{permuted_fields}; "
              f"{seconds / fields:.3f} s a map", flush=True)
    return rows


def planted_maps(place: dict, rng, planted_fields: int, label: str) -> dict:
    n, planted = len(place["cells"]), {}
    for background, shape in (("constant", None), ("Gamma shape 4", 4.0)):
        for factor in (3.0, 5.0):
            found = far_off = 0
            for field_no in range(planted_fields):
                cluster, near = cluster_of(place, rng)
                mean = RISK * multipliers(rng, n, shape) * place["residents"]
                mean[cluster] *= factor
                gi = classes(place, rng.poisson(mean), seed=10_000 + field_no)
                found += bool((gi[cluster] >= 2).any())
                far_off += bool((gi[np.setdiff1d(np.arange(n), near)] >= 2).any())
            key = f"19 cells x{factor:g} on {background}"
            planted[key] = {"found": found, "maps": planted_fields, "interval": interval(found, planted_fields),
                            "maps_with_a_hot_spot_far_outside": far_off}
            print(f"{label}: planted {key}: found in {found}/{planted_fields}, a hot spot far outside in "
                  f"{far_off}", flush=True)
    return planted


def run(fields: int, permuted_fields: int, planted_fields: int, resolutions: tuple[int, ...], seed: int) -> dict:
    out: dict = {"null": [], "planted": {}}
    for resolution in resolutions:
        for layout in ("iid", "parishes"):
            label = f"KNA res {resolution}, residents {'iid 20-200 a cell' if layout == 'iid' else 'by parish'}"
            place = world(resolution, seed, layout)
            rng = np.random.default_rng(seed + resolution)
            out["null"] += null_maps(place, rng, fields, permuted_fields, label)
            if layout == "iid":
                out["planted"][label] = planted_maps(place, rng, planted_fields, label)
    out.update({"alpha": ALPHA, "seed": seed, "risk_per_resident": RISK,
                "residents": "SYNTHETIC: iid uniform 20-200 a cell, or 1,000-13,000 a parish spread by area (seeded)",
                "python": platform.python_version(), "machine": platform.machine()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=200, help="null maps per setting")
    parser.add_argument("--permuted", type=int, default=30, help="of which tested by permutation too")
    parser.add_argument("--planted", type=int, default=40, help="planted maps per background and factor")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[9, 8])
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    results = run(args.fields, args.permuted, args.planted, tuple(args.resolutions), args.seed)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
