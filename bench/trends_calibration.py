"""Calibration and power of the CompStat change test and trend (spatial/trends.py).

Null series: each "community" gets 25 monthly counts with no change at all, drawn
independently (Poisson at a fixed mean; and negative binomial with the same mean and
dispersion phi = Var / mean = 2 or 4, the over-dispersion police counts often show).
For each we report the share of communities whose last-month change (month 25 against
24), year change (25 against 13) and Mann-Kendall trend come out "significant" at 0.05,
with a 95 % Clopper-Pearson interval, for the test as served (dispersion estimated from
the 23 months before the two compared, never below 1) and for the plain Poisson test.
Under the null the share should be at most 5 %.

Power: the same series with the last month's mean doubled (x2) or raised by half (x1.5):
the share detected (significant and in the right direction).

Every draw is seeded (seed + a fixed offset per setting); the seeds are written with the
results. Prints a table and writes bench/results/trends_calibration.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_result  # noqa: E402
from spatial import trends  # noqa: E402

MONTHS = 25
MEANS = (1, 3, 10, 30, 100)
DISPERSIONS = (1.0, 2.0, 4.0)  # 1: Poisson


def draw(rng: np.random.Generator, mean: float, phi: float, rows: int) -> np.ndarray:
    """Counts with the given mean and Var = phi * mean (negative binomial; Poisson when phi is 1)."""
    if phi == 1.0:
        return rng.poisson(mean, size=(rows, MONTHS)).astype(np.float64)
    size = mean / (phi - 1.0)
    return rng.negative_binomial(size, size / (size + mean), size=(rows, MONTHS)).astype(np.float64)


def share(hits: np.ndarray) -> dict[str, float]:
    """The share of True with its 95 % Clopper-Pearson interval."""
    k, n = int(hits.sum()), int(hits.size)
    interval = sps.binomtest(k, n).proportion_ci(method="exact")
    return {"share": k / n, "low": interval.low, "high": interval.high}


def null_figures(series: np.ndarray) -> dict[str, dict[str, float]]:
    served = trends.compstat(series)
    plain = trends.change_test(series[:, -2], series[:, -1])
    assert served.year_earlier is not None
    return {
        "last_month": share(served.last_period.significant),
        "last_month_plain_poisson": share(plain.significant),
        "year": share(served.year_earlier.significant),
        "trend": share(np.nan_to_num(served.trend.p, nan=1.0) < 0.05),
        "too_few_to_tell": share(served.last_period.smallest_p >= 0.05),
        "over_dispersion_flagged": share(np.nan_to_num(served.dispersion.p, nan=1.0) < 0.05),
        "median_phi": {"share": float(np.nanmedian(served.dispersion.phi)), "low": float("nan"),
                       "high": float("nan")},
    }


def power_figures(series: np.ndarray, rng: np.random.Generator, mean: float, phi: float,
                  factor: float) -> dict[str, dict[str, float]]:
    raised = series.copy()
    raised[:, -1] = draw(rng, mean * factor, phi, len(series))[:, -1]
    served = trends.compstat(raised)
    plain = trends.change_test(raised[:, -2], raised[:, -1])
    up = raised[:, -1] > raised[:, -2]
    return {"served": share(served.last_period.significant & up), "plain_poisson": share(plain.significant & up)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", type=int, default=20_000, help="series per setting")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, dict] = {"null": {}, "power": {}}
    print(f"{'phi':>4} {'mean':>5} | last month: served  plain | year   trend | too few | flagged | median phi")
    for p_index, phi in enumerate(DISPERSIONS):
        for m_index, mean in enumerate(MEANS):
            seed = args.seed + 100 * p_index + m_index
            series = draw(np.random.default_rng(seed), mean, phi, args.communities)
            figures = null_figures(series)
            results["null"][f"phi={phi:g},mean={mean}"] = {"seed": seed, **figures}
            print(f"{phi:4g} {mean:5d} | {figures['last_month']['share']:17.3f} "
                  f"{figures['last_month_plain_poisson']['share']:6.3f} | {figures['year']['share']:.3f} "
                  f"{figures['trend']['share']:6.3f} | {figures['too_few_to_tell']['share']:7.3f} | "
                  f"{figures['over_dispersion_flagged']['share']:7.3f} | {figures['median_phi']['share']:.2f}")
    print("\npower (last month raised; detected = significant and up)")
    print(f"{'phi':>4} {'mean':>5} {'x':>4} | served  plain")
    for p_index, phi in enumerate(DISPERSIONS):
        for m_index, mean in enumerate((5, 15, 30)):
            for factor in (1.5, 2.0):
                seed = args.seed + 10_000 + 100 * p_index + 10 * m_index + int(factor * 2)
                rng = np.random.default_rng(seed)
                series = draw(rng, mean, phi, args.communities)
                figures = power_figures(series, rng, mean, phi, factor)
                results["power"][f"phi={phi:g},mean={mean},x{factor:g}"] = {"seed": seed, **figures}
                print(f"{phi:4g} {mean:5d} {factor:4g} | {figures['served']['share']:.3f}  "
                      f"{figures['plain_poisson']['share']:.3f}")
    elapsed = time.perf_counter() - started
    path = write_result("trends_calibration", {"communities": args.communities, "months": MONTHS,
                                               "alpha": trends.ALPHA, "elapsed_s": round(elapsed, 1), **results})
    print(f"\n{elapsed:.1f} s; wrote {path}")


if __name__ == "__main__":
    main()
