"""The categories of Emerging Hot Spot Analysis, from ArcGIS Pro's published definitions.

Each cell gets one category from its series of significant hot and cold bins
(oldest step first) and the Mann-Kendall trend of its Gi* z-scores. Below,
"hot" means a statistically significant hot spot bin, "90 %" means at least
ninety percent of the cell's steps (compared in whole numbers: ``10 * count
>= 9 * steps``), and a trend is significant when its p is below ``trend_alpha``.

======================  ========================================================
New                     hot in the final step, no significant bin before it
Consecutive             a single run of at least two hot bins ending in the final
                        step, no significant bin before the run, hot in < 90 %
Intensifying            hot in >= 90 % including the final step; z rising (significant)
Persistent              hot in >= 90 %; no significant trend
Diminishing             hot in >= 90 % including the final step; z falling (significant)
Oscillating             hot in the final step, cold in some earlier step, hot in < 90 %
Historical              not hot in the final step, hot in >= 90 %
Sporadic                hot in the final step, hot on and off before, never cold,
                        hot in < 90 %
No pattern              none of these
======================  ========================================================

Cold spots mirror these (cold for hot, falling for rising). The definitions
overlap; a cell takes the first that fits in sfdep's order (new, consecutive,
intensifying, persistent, diminishing, oscillating, historical, sporadic; hot
before cold at each). Where sfdep's rules (``R/emerging-hostpot-classifications.R``)
read the definitions differently we follow ArcGIS's text, and
``tests/spatial/test_emerging_categories.py`` lists each case:

- intensifying counts the share of *hot* bins (sfdep counts every significant bin);
- consecutive needs the final run to be hot bins (sfdep's run may hold a cold bin);
- historical needs the final bin not to be a significant hot spot (sfdep: its Gi* below 0);
- sporadic needs the final step to be hot (ArcGIS Pro's text; sfdep follows ArcMap's older one).

New and consecutive follow sfdep in asking for no significant bin at all before
(a cold history makes a cell oscillating, which ArcGIS's text also allows).
"""

from __future__ import annotations

import numpy as np

# Signed codes: + hot, - cold, 0 no pattern; the order is the precedence above.
PATTERNS = ("New", "Consecutive", "Intensifying", "Persistent", "Diminishing", "Oscillating", "Historical", "Sporadic")
NEW, CONSECUTIVE, INTENSIFYING, PERSISTENT, DIMINISHING, OSCILLATING, HISTORICAL, SPORADIC = range(1, 9)
NO_PATTERN = 0
NO_PATTERN_LABEL = "No pattern detected"


def category_label(code: int) -> str:
    """"New hot spot", "Persistent cold spot", … or "No pattern detected" for a signed code."""
    if code == NO_PATTERN:
        return NO_PATTERN_LABEL
    return f"{PATTERNS[abs(code) - 1]} {'hot' if code > 0 else 'cold'} spot"


def _final_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True that ends in the last column, per row."""
    steps = flags.shape[1]
    # position of the last False; the run is everything after it
    last_false = np.where(~flags, np.arange(steps), -1).max(axis=1)
    return steps - 1 - last_false


def _one_side(this: np.ndarray, other: np.ndarray, rising: np.ndarray, falling: np.ndarray,
              no_trend: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Each pattern's mask for one side (``this``: hot bins and a rising trend intensifying, or the mirror)."""
    steps = this.shape[1]
    count = this.sum(axis=1)
    significant_count = (this | other).sum(axis=1)
    mostly = 10 * count >= 9 * steps
    final = this[:, -1]
    run = _final_run(this)
    earlier_significant = significant_count - run  # significant bins before the final run of ``this``
    ever_other = other.any(axis=1)
    return [
        (NEW, final & (significant_count == 1)),
        (CONSECUTIVE, final & (run >= 2) & (earlier_significant == 0) & ~mostly),
        (INTENSIFYING, mostly & final & rising),
        (PERSISTENT, mostly & no_trend),
        (DIMINISHING, mostly & final & falling),
        (OSCILLATING, final & ever_other & ~mostly),
        (HISTORICAL, mostly & ~final),
        (SPORADIC, final & ~ever_other & ~mostly),
    ]


def classify(hot: np.ndarray, cold: np.ndarray, trend_s: np.ndarray, trend_p: np.ndarray,
             trend_alpha: float = 0.05) -> np.ndarray:
    """The signed category code of every cell.

    Parameters
    ----------
    hot, cold : numpy.ndarray of bool, shape (cells, steps)
        Significant hot and cold spot bins, oldest step first.
    trend_s, trend_p : numpy.ndarray, shape (cells,)
        Mann-Kendall S (its sign is the direction) and two-sided p of each
        cell's Gi* z-scores; a NaN p is no significant trend.
    trend_alpha : float
        Significance level of the trend.

    Returns
    -------
    numpy.ndarray of int8
        ``+code`` for a hot pattern, ``-code`` for a cold one, 0 for none
        (labels: :func:`category_label`).
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    if hot.shape != cold.shape or hot.ndim != 2:
        raise ValueError("hot and cold must be boolean arrays of the same (cells, steps) shape")
    if np.any(hot & cold):
        raise ValueError("a bin cannot be both a hot and a cold spot")
    trend_p = np.asarray(trend_p, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        significant = trend_p < trend_alpha
    up = significant & (np.asarray(trend_s) > 0)
    down = significant & (np.asarray(trend_s) < 0)
    hot_rules = _one_side(hot, cold, up, down, ~significant)
    cold_rules = _one_side(cold, hot, down, up, ~significant)
    codes = np.zeros(hot.shape[0], dtype=np.int8)
    decided = np.zeros(hot.shape[0], dtype=bool)
    for (code, hot_mask), (_, cold_mask) in zip(hot_rules, cold_rules):
        for signed, mask in ((code, hot_mask), (-code, cold_mask)):
            take = mask & ~decided
            codes[take] = signed
            decided |= take
    return codes
