"""How well a set of flagged cells predicted where the incidents of a later window happened.

Measures (every one on the incidents of the later window, in all cells of the area):

- **hit rate** ``n / N``: the share of the later window's incidents that fell in the flagged cells.
- **PAI**, the Predictive Accuracy Index (Chainey, Tompson and Uhlig 2008, *Security Journal* 21):
  ``(n / N) / (a / A)``, the share of crime over the share of area. 1 is what a random map of the
  same size scores on average; 5 means the flagged cells held five times their share of crime.
- **PEI**, the Predictive Efficiency Index (Hunt 2016, *NIJ* "Do crime hot spots move?"; Drawve 2016):
  ``PAI / PAI*``, where ``PAI*`` is the best PAI any map of the same area could have scored on that
  window (the cells with the most incidents per km², taken until the area is filled). 1 is perfect.
  Equal to ``n / n*``.
- **RRI**, the Recapture Rate Index (Levine 2004, *CrimeStat III*, chapter on hot-spot evaluation):
  ``(n_later / n_earlier) / (N_later / N_earlier)``: whether the flagged cells kept their share of
  crime from the window they were found in (about 1) or lost it (below 1).

Cells are weighted: a weight of 1 flags a cell, 0 leaves it out, and a fraction shares a cell between
tied candidates (see :func:`spatial.outcomes.baselines.top_area`), so a naive map with ties at its edge
is scored as the average of its random tie-breaks, not by an arbitrary order.

Intervals hold the flagged cells fixed and describe how much the score would move with another draw
of the same window's incidents, not how much a re-analysis would change the map. Resampling the
incidents makes the number in the flagged cells binomial given the total, so the hit rate and PAI
intervals are the exact Clopper–Pearson ones (valid however few incidents; a percentile bootstrap
undercovers when the flagged cells expect only a few, and cannot reach a capture it never saw). PEI
and RRI, which have no closed form, use a seeded percentile bootstrap that resamples the incidents of
each window (a multinomial draw of the same total over the cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

# Replicates drawn at once: bounds memory to CHUNK × (cells with incidents) integers.
CHUNK = 128


class NotMeasurable(ValueError):
    """The inputs cannot give the measure (no incidents, nothing flagged); the message says why."""


@dataclass(frozen=True)
class Interval:
    """A two-sided bootstrap interval at the level of the measure it belongs to."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)


@dataclass(frozen=True)
class Accuracy:
    """Hit rate, PAI, PEI and RRI of one set of flagged cells on one later window."""

    incidents: int  # N: incidents of the later window in every cell of the area
    captured: float  # n: of them in the flagged cells (fractional where tied cells are shared)
    best_captured: float  # n*: the most any map of the same area could have held
    area_share: float  # a / A
    hit_rate: float
    pai: float
    pei: float
    recapture_rate_index: float | None  # None without an earlier window or with no earlier incident flagged
    hit_rate_interval: Interval
    pai_interval: Interval
    pei_interval: Interval
    recapture_interval: Interval | None
    level: float
    replicates: int
    seed: int

    @property
    def beats_chance(self) -> bool:
        """The whole PAI interval is above 1: better than a random map of the same area."""
        return self.pai_interval.low > 1

    def verdict(self, counts: bool = True) -> str:
        """One plain sentence on what the numbers say, and whether there is enough data to say it
        (``counts=False``: without the number of incidents, for audiences who see no counts)."""
        level = f"{self.level:.0%}"
        incidents = f"{self.incidents} incidents" if counts else "incidents"
        head = (f"The flagged cells, {self.area_share:.1%} of the area, held {self.hit_rate:.0%} of the "
                f"{incidents} of the later window")
        if self.beats_chance:
            return (f"{head}: {self.pai:.1f} times their share of the area (PAI, {level} interval "
                    f"{self.pai_interval.low:.1f}–{self.pai_interval.high:.1f}), better than a random map of the "
                    f"same size.")
        if self.pai_interval.high < 1:
            return (f"{head} (PAI {self.pai:.1f}, {level} interval {self.pai_interval.low:.1f}–"
                    f"{self.pai_interval.high:.1f}): fewer than a random map of the same size would hold, so "
                    f"this map did worse than chance there.")
        return (f"{head} (PAI {self.pai:.1f}, {level} interval {self.pai_interval.low:.1f}–"
                f"{self.pai_interval.high:.1f}). That interval includes 1, what a random map of the same size "
                f"scores: with {incidents if counts else 'so few incidents'} this map cannot be told apart from chance.")

    def as_dict(self) -> dict[str, object]:
        """Plain figures for JSON (intervals as [low, high])."""
        def pair(interval: Interval | None) -> list[float] | None:
            return None if interval is None else [round(interval.low, 4), round(interval.high, 4)]

        return {
            "incidents": self.incidents, "captured": round(self.captured, 3),
            "best_captured": round(self.best_captured, 3), "area_share": round(self.area_share, 5),
            "hit_rate": round(self.hit_rate, 4), "hit_rate_interval": pair(self.hit_rate_interval),
            "pai": round(self.pai, 4), "pai_interval": pair(self.pai_interval),
            "pei": round(self.pei, 4), "pei_interval": pair(self.pei_interval),
            "recapture_rate_index": None if self.recapture_rate_index is None else round(self.recapture_rate_index, 4),
            "recapture_interval": pair(self.recapture_interval),
            "beats_chance": self.beats_chance, "level": self.level, "replicates": self.replicates,
            "seed": self.seed, "verdict": self.verdict(),
        }


def prediction_accuracy(flagged, later, *, earlier=None, area=None, replicates: int = 999,
                        level: float = 0.95, seed: int = 0) -> Accuracy:
    """Score flagged cells against the incidents of a later window.

    Parameters
    ----------
    flagged : array of weights in [0, 1], one per cell (booleans work: flagged or not).
    later : incidents per cell in the window being predicted.
    earlier : incidents per cell in the window the map was made from (for the RRI); optional.
    area : area of each cell (any unit; default equal areas, which H3 cells of one resolution nearly are).
    replicates : bootstrap draws (0 for point values only; the intervals are then the point values).
    level : two-sided interval level.
    seed : seed of the bootstrap, recorded with the result.
    """
    weights, counts, areas = _validated(flagged, later, area)
    total = int(counts.sum())
    if total == 0:
        raise NotMeasurable("There are no incidents in the later window, so there is nothing to predict.")
    flagged_area, all_area = float(weights @ areas), float(areas.sum())
    if flagged_area <= 0:
        raise NotMeasurable("No cell is flagged, so there is no map to score.")
    captured = float(weights @ counts)
    best = float(_best_captured(counts[None, :], areas, flagged_area)[0])
    share = flagged_area / all_area
    prior = None if earlier is None else _counts(earlier, len(counts), "earlier")
    rri = _recapture(captured, total, float(weights @ prior), int(prior.sum())) if prior is not None else None

    rng = np.random.default_rng(seed)
    hits, efficiency = _bootstrap_later(counts, weights, areas, flagged_area, replicates, rng)
    quantiles = ((1 - level) / 2, 1 - (1 - level) / 2)

    def interval(values: np.ndarray, point: float) -> Interval:
        finite = values[np.isfinite(values)]
        if len(finite) == 0:
            return Interval(point, point)
        # the outer order statistics: counts are discrete, and interpolating between draws undercovers
        low = np.quantile(finite, quantiles[0], method="lower")
        high = np.quantile(finite, quantiles[1], method="higher")
        return Interval(float(low), float(high))

    recapture_interval = None
    if rri is not None and prior is not None:
        earlier_hits = _multinomial_sums(prior, weights, replicates, rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            rri_draws = (hits / earlier_hits) / (total / prior.sum())
        recapture_interval = interval(rri_draws, rri)
    hit_interval = clopper_pearson(captured, total, level)
    return Accuracy(
        incidents=total, captured=captured, best_captured=best, area_share=share,
        hit_rate=captured / total, pai=captured / total / share, pei=captured / best,
        recapture_rate_index=rri,
        hit_rate_interval=hit_interval,
        pai_interval=Interval(hit_interval.low / share, hit_interval.high / share),
        pei_interval=interval(efficiency, captured / best),
        recapture_interval=recapture_interval, level=level, replicates=replicates, seed=seed,
    )


def _validated(flagged, later, area) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = _counts(later, None, "later")
    weights = np.asarray(flagged, dtype=float).ravel()
    if len(weights) != len(counts):
        raise NotMeasurable(f"{len(weights)} flagged weights for {len(counts)} cells: one per cell is needed.")
    if np.any(~np.isfinite(weights)) or np.any((weights < 0) | (weights > 1)):
        raise NotMeasurable("Flagged weights must be between 0 and 1.")
    areas = np.ones(len(counts)) if area is None else np.asarray(area, dtype=float).ravel()
    if len(areas) != len(counts) or np.any(~np.isfinite(areas)) or np.any(areas <= 0):
        raise NotMeasurable("Every cell needs a positive area.")
    return weights, counts, areas


def _counts(values, expected: int | None, name: str) -> np.ndarray:
    counts = np.asarray(values).ravel()
    if expected is not None and len(counts) != expected:
        raise NotMeasurable(f"The {name} window has {len(counts)} cells; {expected} are needed.")
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise NotMeasurable(f"Incident counts of the {name} window must be whole numbers, 0 or more.")
    return counts.astype(np.int64)


def _recapture(captured_later: float, total_later: int, captured_earlier: float, total_earlier: int) -> float | None:
    if captured_earlier <= 0 or total_earlier <= 0:
        return None
    return float((captured_later / captured_earlier) / (total_later / total_earlier))


def _best_captured(counts: np.ndarray, areas: np.ndarray, flagged_area: float) -> np.ndarray:
    """The most incidents any selection of ``flagged_area`` could hold, per row of ``counts``.

    Cells are taken by incidents per unit area, densest first, the last one in part: the fractional
    knapsack, whose greedy answer is exact. With equal areas it is the top cells by count.
    """
    density = counts / areas
    order = np.argsort(-density, axis=1, kind="stable")
    sorted_counts = np.take_along_axis(counts, order, axis=1)
    sorted_areas = areas[order]
    filled_before = np.cumsum(sorted_areas, axis=1) - sorted_areas
    taken = np.clip((flagged_area - filled_before) / sorted_areas, 0.0, 1.0)
    return (sorted_counts * taken).sum(axis=1)


def _bootstrap_later(counts: np.ndarray, weights: np.ndarray, areas: np.ndarray, flagged_area: float,
                     replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Captured incidents and PEI of each bootstrap draw of the later window."""
    present = counts > 0
    probabilities = counts[present] / counts.sum()
    hits, efficiency = [], []
    for size in _chunks(replicates):
        draws = rng.multinomial(counts.sum(), probabilities, size=size)
        captured = draws @ weights[present]
        # cells without incidents add nothing to the best map, so the cells with some suffice
        best = _best_captured(draws, areas[present], flagged_area)
        hits.append(captured)
        efficiency.append(captured / best)
    return _joined(hits), _joined(efficiency)


def _multinomial_sums(counts: np.ndarray, weights: np.ndarray, replicates: int,
                      rng: np.random.Generator) -> np.ndarray:
    present = counts > 0
    probabilities = counts[present] / counts.sum()
    return _joined([rng.multinomial(counts.sum(), probabilities, size=size) @ weights[present]
                    for size in _chunks(replicates)])


def _chunks(replicates: int) -> list[int]:
    return [min(CHUNK, replicates - start) for start in range(0, replicates, CHUNK)]


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


def clopper_pearson(hits: float, n: float, level: float = 0.95) -> Interval:
    """Exact binomial interval for the share ``hits / n`` (``hits`` may be fractional: shared ties)."""
    tail = (1 - level) / 2
    low = 0.0 if hits <= 0 else float(beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits >= n else float(beta.ppf(1 - tail, hits + 1, n - hits))
    return Interval(low, high)
