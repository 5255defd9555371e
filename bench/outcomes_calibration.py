"""Calibration and power of the outcome measures on seeded synthetic histories (issue 16).

Back-test (spatial/outcomes/accuracy.py): the H3 res-9 disk of 20 rings (1,261 cells), 0.3
incidents per cell and window, six windows to make the map and one to test it.
- Null histories (no hot spot): how often the 95 % PAI interval misses 1 (should be about 5 %),
  and how often a map is said to beat chance (interval above 1; about 2.5 %), for the Gi* top 5 %
  map, last window's top 5 % and the kernel surface's top 5 %.
- Planted histories (a 19-cell hot spot at 2.0 per window): how often the Gi_Bin >= 2 map beats
  chance, and how often its PAI is above last window's top cells of the same area.

Interventions (spatial/outcomes/intervention.py): Poisson before/after counts with a comparison
area of 1,500 incidents per window, a buffer of 2/3 of the target, at several target sizes.
- No change: the false-claim rate (an effect claimed) against the stated 5 %, and the same on
  over-dispersed counts (negative binomial, variance = mean + mean²/100 per area), which the
  Poisson interval does not allow for, then with six earlier windows given, from which the
  quasi-Poisson dispersion is estimated (Pearson X² / (n - p) on 5 degrees of freedom).
- A planted 30 % fall: the share found, beside the mean detectable fall the sentence quotes.
- The fall moved into the buffer: the share reported as displacement.

Every draw is seeded from --seed; prints a table and writes bench/results/outcomes_calibration.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.calibration import clopper_pearson  # noqa: E402
from bench.common import write_result  # noqa: E402
from spatial.outcomes import evaluate_intervention, kernel_surface, prediction_accuracy, top_area  # noqa: E402
from spatial.outcomes.synthetic import (  # noqa: E402
    disk_grid,
    gi_hot_cells,
    intervention_counts,
    overdispersed_history,
    planted_history,
)
from spatial.stats import gi_star_analytic  # noqa: E402

TARGET_SIZES = (20, 50, 100, 300)
COMPARISON = 1500
EARLIER_PERIODS = 6  # earlier windows given to allow for over-dispersion
DISPERSION = 100.0  # negative binomial size: variance = mean + mean² / 100 (a 10 % spread at large counts)


def share(hits: int, n: int) -> dict[str, object]:
    return {"share": round(hits / n, 4), "interval": [round(v, 4) for v in clopper_pearson(hits, n)], "n": n}


def backtest_null(grid, histories: int, seed: int, replicates: int) -> dict[str, dict]:
    maps = ("gi_star_top_5_percent", "last_window_top_5_percent", "kernel_top_5_percent")
    misses = dict.fromkeys(maps, 0)
    claims = dict.fromkeys(maps, 0)
    for index in range(histories):
        rng = np.random.default_rng([seed, 1, index])
        history = planted_history(grid, 7, background=0.3, hot_rate=0.3, rng=rng)
        train, last, later = history[:6].sum(axis=0), history[5], history[6]
        cells = math.floor(0.05 * len(grid.cells))
        z = gi_star_analytic(train.astype(float), grid.graph)[3]
        surface = kernel_surface(grid.x, grid.y, last, grid.spacing)
        for name, scores in zip(maps, (z, last, surface), strict=True):
            result = prediction_accuracy(top_area(scores, cells), later, replicates=replicates, seed=index)
            misses[name] += not result.pai_interval.contains(1.0)
            claims[name] += result.beats_chance
    return {name: {"interval_misses_1": share(misses[name], histories),
                   "said_to_beat_chance": share(claims[name], histories)} for name in maps}


def backtest_planted(grid, histories: int, seed: int, replicates: int) -> dict[str, object]:
    beats, above_naive, empty, pai = 0, 0, 0, []
    for index in range(histories):
        rng = np.random.default_rng([seed, 2, index])
        history = planted_history(grid, 7, background=0.3, hot_rate=2.0, rng=rng)
        train, last, later = history[:6].sum(axis=0), history[5], history[6]
        hot = gi_hot_cells(train, grid.graph)
        if not hot.any():
            empty += 1
            continue
        result = prediction_accuracy(hot, later, earlier=train, replicates=replicates, seed=index)
        naive = prediction_accuracy(top_area(last, hot.sum()), later, replicates=0)
        beats += result.beats_chance
        above_naive += result.pai > naive.pai
        pai.append(result.pai)
    return {"beats_chance": share(beats, histories), "pai_above_last_window": share(above_naive, histories),
            "no_hot_cells": empty, "median_pai": round(float(np.median(pai)), 2) if pai else None}


def interventions(sims: int, seed: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for size in TARGET_SIZES:
        buffer = round(size * 2 / 3)
        null_claims = over_claims = allowed_claims = found = displaced = 0
        detectable = []
        for index in range(sims):
            rng = np.random.default_rng([seed, 3, size, index])
            target, ring, comparison = intervention_counts(rng, target=size, buffer=buffer, comparison=COMPARISON)
            null_claims += evaluate_intervention(target, comparison, ring).target_change.found
            over_target, over_comparison, earlier = overdispersed_history(
                rng, target=size, comparison=COMPARISON, dispersion=DISPERSION, earlier=EARLIER_PERIODS)
            over_claims += evaluate_intervention(over_target, over_comparison).target_change.found
            allowed_claims += evaluate_intervention(over_target, over_comparison, earlier=earlier).target_change.found
            target, ring, comparison = intervention_counts(rng, target=size, buffer=buffer, comparison=COMPARISON,
                                                           target_change=-0.3)
            planted = evaluate_intervention(target, comparison, ring)
            found += planted.target_change.found and planted.target_change.ratio < 1
            if planted.target_change.detectable_fall is not None:
                detectable.append(planted.target_change.detectable_fall)
            moved = size * 0.3 / buffer  # the target's lost incidents, as a rise in the buffer
            target, ring, comparison = intervention_counts(rng, target=size, buffer=buffer, comparison=COMPARISON,
                                                           target_change=-0.3, buffer_change=moved)
            displaced += "a sign of displacement" in evaluate_intervention(target, comparison, ring).sentence
        out[f"target {size}, buffer {buffer}, comparison {COMPARISON}"] = {
            "no_change_claimed": share(null_claims, sims),
            "no_change_claimed_overdispersed": share(over_claims, sims),
            f"no_change_claimed_overdispersed_with_{EARLIER_PERIODS}_earlier_periods": share(allowed_claims, sims),
            "fall_30_found": share(found, sims),
            "mean_detectable_fall_quoted": round(float(np.mean(detectable)), 3) if detectable else None,
            "displacement_reported": share(displaced, sims),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--histories", type=int, default=400, help="synthetic histories per back-test case")
    parser.add_argument("--sims", type=int, default=4000, help="simulated interventions per size")
    parser.add_argument("--replicates", type=int, default=499, help="bootstrap replicates per back-test")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    clock = time.perf_counter()
    grid = disk_grid()
    figures = {
        "seed": args.seed, "level": 0.95, "grid_cells": len(grid.cells), "hot_cells": int(grid.hot.sum()),
        "backtest_null": backtest_null(grid, args.histories, args.seed, args.replicates),
        "backtest_planted": backtest_planted(grid, args.histories, args.seed, args.replicates),
        "interventions": interventions(args.sims, args.seed),
    }
    figures["seconds"] = round(time.perf_counter() - clock, 1)
    for name, result in figures["backtest_null"].items():
        print(f"null back-test, {name:28s} interval misses 1: {result['interval_misses_1']['share']:.3f}  "
              f"beats chance: {result['said_to_beat_chance']['share']:.3f}  (stated 0.05 / 0.025)")
    planted = figures["backtest_planted"]
    print(f"planted hot spot: beats chance {planted['beats_chance']['share']:.3f}, above last window "
          f"{planted['pai_above_last_window']['share']:.3f}, median PAI {planted['median_pai']}")
    for name, result in figures["interventions"].items():
        print(f"{name:40s} null claimed {result['no_change_claimed']['share']:.3f} "
              f"(over-dispersed {result['no_change_claimed_overdispersed']['share']:.3f}, with earlier periods "
              f"{result[f'no_change_claimed_overdispersed_with_{EARLIER_PERIODS}_earlier_periods']['share']:.3f}), "
              f"30 % fall found "
              f"{result['fall_30_found']['share']:.3f} (detectable quoted {result['mean_detectable_fall_quoted']}), "
              f"displacement {result['displacement_reported']['share']:.3f}")
    print(write_result("outcomes_calibration", figures))


if __name__ == "__main__":
    main()
