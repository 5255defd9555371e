"""Benchmark: esda vs spatial.stats on a ~68,000-cell H3 resolution-10 grid.

Run from the repository root::

    python bench/stats.py [--permutations 999] [--seed 20240601]

Times bare esda (``G_Local(star=True)``, ``Moran_Local``, ``Moran``, all
``n_jobs=1, keep_simulations=False`` with an explicit seed) against our
functions on the same grid and counts, checks that the permutation counts
are identical, prints the figures and writes ``bench/results/stats.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from shapely.geometry import box

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatial.grid import cell_centres, cover_communities  # noqa: E402
from spatial.permutation import permutation_draws  # noqa: E402
from spatial.stats import (  # noqa: E402
    _gi_star_larger,
    _local_moran_larger,
    gi_star,
    gi_star_analytic,
    local_moran,
    local_moran_analytic,
    moran_global,
)
from spatial.weights import h3_neighbours, to_libpysal  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "stats.json"

# ~32 km x 32 km around St Louis, MO: ~1,000 km², ~68,000 res-10 cells.
STUDY_AREA = box(-90.45, 38.50, -90.082, 38.788)


def synthetic_counts(cells: np.ndarray, seed: int) -> np.ndarray:
    """Poisson counts with a few hot spots: many zeros, many ties (like crime)."""
    rng = np.random.default_rng(seed)
    lonlat = cell_centres(cells)
    intensity = np.full(len(cells), 0.3)
    for _ in range(12):
        centre = lonlat[rng.integers(len(cells))]
        d2 = ((lonlat - centre) ** 2).sum(axis=1)
        intensity += rng.uniform(1, 4) * np.exp(-d2 / (2 * rng.uniform(0.003, 0.01) ** 2))
    return rng.poisson(intensity).astype(np.float64)


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def esda_larger(p_sim: np.ndarray, permutations: int) -> np.ndarray:
    """esda stores folded p as float32; recover min(larger, P - larger)."""
    return np.rint(np.asarray(p_sim, dtype=np.float64) * (permutations + 1) - 1).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    perms, seed = args.permutations, args.seed

    import esda

    warnings.simplefilter("ignore")
    t_grid, grid = timed(lambda: cover_communities([STUDY_AREA], [1], 10))
    t_graph, graph = timed(lambda: h3_neighbours(grid.cells))
    y = synthetic_counts(grid.cells, seed)
    t_w, w_binary = timed(lambda: to_libpysal(graph, "b"))
    w_row = to_libpysal(graph, "r")
    ok = graph.cardinalities > 0
    print(f"grid: {graph.n} cells, {graph.n_components} component(s), "
          f"{int((y == 0).sum())} zero cells; {perms} permutations, seed {seed}")
    print(f"setup: cover {t_grid:.2f}s, neighbours {t_graph:.2f}s, libpysal W {t_w:.2f}s")

    figures: dict[str, dict] = {}

    t_draws_esda, draws = timed(lambda: permutation_draws(graph.n, 6, perms, seed, "esda"))
    t_draws_fast, _ = timed(lambda: permutation_draws(graph.n, 6, perms, seed, "fast"), 3)

    # --- Gi* -------------------------------------------------------------
    t_esda, e = timed(lambda: esda.G_Local(
        y, w_binary, transform="B", star=True, permutations=perms,
        n_jobs=1, keep_simulations=False, seed=seed))
    t_ours, ours = timed(lambda: gi_star(y, graph, seed=seed, permutations=perms,
                                         draws="esda"), 3)
    t_fast, _ = timed(lambda: gi_star(y, graph, seed=seed, permutations=perms, draws="fast"), 3)
    g = gi_star_analytic(y, graph, "b")[0]
    t_engine, larger = timed(lambda: _gi_star_larger(y, g, graph, "b", draws), 3)
    same = bool(np.array_equal(
        esda_larger(e.p_sim, perms)[ok], np.minimum(larger, perms - larger)[ok]))
    figures["gi_star"] = _figures(t_esda, t_ours, t_fast, t_engine, same)
    assert np.array_equal(ours.larger, larger)

    # --- local Moran -----------------------------------------------------
    t_esda, e = timed(lambda: esda.Moran_Local(
        y, w_row, permutations=perms, n_jobs=1, keep_simulations=False, seed=seed))
    t_ours, ours = timed(lambda: local_moran(y, graph, seed=seed, permutations=perms,
                                             draws="esda"), 3)
    t_fast, _ = timed(lambda: local_moran(y, graph, seed=seed, permutations=perms, draws="fast"), 3)
    z, _, local_i, _ = local_moran_analytic(y, graph)
    t_engine, larger = timed(lambda: _local_moran_larger(z, local_i, graph, draws), 3)
    same = bool(np.array_equal(
        esda_larger(e.p_sim, perms)[ok], np.minimum(larger, perms - larger)[ok]))
    figures["local_moran"] = _figures(t_esda, t_ours, t_fast, t_engine, same)

    # --- global Moran ----------------------------------------------------
    def esda_moran():
        np.random.seed(seed)  # esda's Moran draws from numpy's global state
        return esda.Moran(y, w_row, permutations=perms)

    t_esda = t_ours = np.inf
    for _ in range(3):  # interleaved, best of 3 each: the machine is shared
        t, e = timed(esda_moran)
        t_esda = min(t_esda, t)
        t, ours = timed(lambda: moran_global(y, graph, seed=seed, permutations=perms))
        t_ours = min(t_ours, t)
    t_audit, audit = timed(lambda: moran_global(y, graph, seed=seed, permutations=perms,
                                                draws="esda"))
    figures["moran_global"] = {
        "esda_s": round(t_esda, 4), "ours_s": round(t_ours, 4),
        "speedup": round(t_esda / t_ours, 1),
        "ours_esda_draws_s": round(t_audit, 4),
        "esda_draws_identical_p": audit.p_sim_folded == float(e.p_sim),
        "I_abs_diff": abs(float(e.I) - ours.I),
        "moved_cells": int((y != np.bincount(y.astype(int)).argmax()).sum()),
        "esda_p_sim_folded": float(e.p_sim), "ours_p_sim": ours.p_sim,
        "ours_larger": ours.larger, "ours_smaller": ours.smaller,
    }

    report = {
        "cells": int(graph.n), "resolution": 10, "permutations": perms, "seed": seed,
        "zero_cells": int((y == 0).sum()), "components": graph.n_components,
        "draws_s": {"esda_compatible": round(t_draws_esda, 4), "fast": round(t_draws_fast, 4)},
        "setup_s": {"cover": round(t_grid, 3), "neighbours": round(t_graph, 3),
                    "libpysal_W": round(t_w, 3)},
        "results": figures,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "esda": esda.__version__, "numpy": np.__version__},
        "notes": ("ours_default_fast_draws_s: our default (Generator draws). "
                  "ours_esda_draws_s: esda-identical draws (one legacy RandomState "
                  "shuffle of n-1 items per permutation, as esda does, ~0.6 s) and "
                  "identical p. engine_only_s: the counting alone on the same draws "
                  "esda uses; identical_counts compares it with esda. Analytic "
                  "statistics included in all of ours. Best of 3 for ours, one "
                  "run for esda; n_jobs=1. moran_global: best of 3 for both, "
                  "interleaved; ours places only the non-modal values (moved_cells) "
                  "and counts ties both ways in exact integer arithmetic; "
                  "ours_esda_draws_s is draws='esda', whose p equals esda's "
                  "(esda_draws_identical_p)."),
    }
    print(f"permutation draws: esda-compatible {t_draws_esda:.3f}s, fast {t_draws_fast:.4f}s")
    for name, f in figures.items():
        print(f"{name:13s} " + ", ".join(f"{k}={v}" for k, v in f.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


def _figures(t_esda, t_ours, t_fast, t_engine, same):
    return {
        "esda_s": round(t_esda, 4),
        "ours_default_fast_draws_s": round(t_fast, 4),
        "ours_esda_draws_s": round(t_ours, 4),
        "engine_only_s": round(t_engine, 4),
        "speedup_default": round(t_esda / t_fast, 1),
        "speedup_esda_draws": round(t_esda / t_ours, 1),
        "speedup_engine_same_draws": round(t_esda / t_engine, 1),
        "identical_counts": same,
    }


if __name__ == "__main__":
    main()
