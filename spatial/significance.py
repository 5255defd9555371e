"""Multiple testing and map classes: Benjamini-Hochberg, Gi_Bin, LISA labels.

Pure functions on p-value and statistic arrays; NaN marks cells without a
test (islands) and is carried through, never counted as a test.
"""

from __future__ import annotations

import numpy as np

LISA_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
NOT_SIGNIFICANT = "Not significant"
NO_NEIGHBOURS = "No neighbours"


def fdr_bh(p, alpha: float | None = None):
    """Benjamini–Hochberg adjusted p-values, ignoring NaN.

    Parameters
    ----------
    p : array_like
        p-values; NaN entries (islands) stay NaN and do not count as tests.
    alpha : float, optional
        If given, return a boolean "significant at FDR alpha" mask instead.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values (same shape as ``p``), or the mask.
    """
    p = np.asarray(p, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    values = p[valid]
    m = len(values)
    if m:
        order = np.argsort(values)
        scaled = values[order] * m / np.arange(1, m + 1)
        scaled = np.minimum.accumulate(scaled[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.clip(scaled, 0.0, 1.0)
        adjusted[valid] = out
    if alpha is None:
        return adjusted
    return np.where(valid, adjusted <= alpha, False)


def gi_bin(z, p, alpha: float = 0.10) -> np.ndarray:
    """Esri's Gi_Bin classes: ±3 (p < 0.01), ±2 (< 0.05), ±1 (< 0.10), else 0.

    The sign is the sign of ``z``. Pass FDR-adjusted p to control false
    discoveries. ``alpha`` caps the weakest class (0.10 keeps all three;
    0.05 drops ±1). NaN p (islands) gives 0.

    Notes
    -----
    Use the FDR-adjusted *analytic* p (``fdr_bh(result.p_norm)``), as Esri
    does. With 999 permutations the smallest two-sided pseudo p is 0.002,
    and Benjamini-Hochberg over m cells only passes it when roughly
    ``0.002 * m / 0.05`` cells (4 % of the grid) share it, so FDR on pseudo
    p hides small clusters on large grids. The analytic p leans on a normal
    approximation that is optimistic for very sparse counts; report both.
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    level = np.zeros(p.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for threshold, value in ((0.10, 1), (0.05, 2), (0.01, 3)):
            if threshold <= alpha + 1e-12:
                level = np.where(p < threshold, value, level)
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int64)


def lisa_label(quadrant, p, alpha: float = 0.05) -> np.ndarray:
    """Cluster labels: High-High, Low-High, Low-Low, High-Low, Not significant.

    Cells with quadrant 0 or NaN p (islands) are labelled "No neighbours".
    """
    quadrant = np.asarray(quadrant)
    p = np.asarray(p, dtype=np.float64)
    labels = np.full(quadrant.shape, NOT_SIGNIFICANT, dtype=object)
    with np.errstate(invalid="ignore"):
        significant = p < alpha
    for q, name in LISA_LABELS.items():
        labels[significant & (quadrant == q)] = name
    labels[(quadrant == 0) | np.isnan(p)] = NO_NEIGHBOURS
    return labels


def gi_bin_from_tails(direction, p, alpha: float = 0.10) -> np.ndarray:
    """Gi_Bin classes from a conditional test: the sign is the tail that was extreme.

    ``direction`` is +1 where the neighbourhood was unusually high (upper
    tail), -1 where unusually low; ``p`` the (FDR-adjusted) two-sided p.
    Thresholds as :func:`gi_bin`.
    """
    return gi_bin(np.asarray(direction, dtype=np.float64), p, alpha)


def lisa_label_from_tails(quadrant, direction, p, alpha: float = 0.05) -> np.ndarray:
    """LISA labels from a conditional test on the neighbourhood's sum.

    A significant upper tail (neighbours unusually high) can only be
    High-High or Low-High, a lower tail only Low-Low or High-Low; where the
    quadrant disagrees with the tail (a lag on the other side of the mean)
    the cell is not labelled.
    """
    quadrant = np.asarray(quadrant)
    direction = np.asarray(direction)
    labels = lisa_label(quadrant, p, alpha)
    high_lag = np.isin(quadrant, (1, 2))
    low_lag = np.isin(quadrant, (3, 4))
    clustered = np.isin(labels, list(LISA_LABELS.values()))
    disagree = clustered & (((direction > 0) & ~high_lag) | ((direction < 0) & ~low_lag) | (direction == 0))
    labels[disagree] = NOT_SIGNIFICANT
    return labels
