"""Crime beside social factors: bivariate local Moran with calibrated inference.

The statistic (esda ``Moran_Local_BV``, GeoDa's bivariate LISA) relates the
crime rate *in* a community to an indicator (unemployment, share of young
people, alcohol outlets, ...) *in its neighbours*:

    I_i = (n - 1) * zx_i * sum_j w_ij zy_j / sum(zx^2),

``zx`` the standardised crime rate, ``zy`` the standardised indicator,
``w`` row-standardised contiguity weights. Cluster types: High-High (a high
rate among neighbours with a high indicator), Low-Low, High-Low (a high rate
among low-indicator neighbours), Low-High.

Significance
------------
Conditional randomisation, as esda: the community keeps its own crime rate,
and the indicator values of the other communities are shuffled over its
neighbours. With weights uniform within a row, I_i is monotone in the sum of
the neighbours' indicator values (increasing when ``zx_i > 0``, decreasing
when ``zx_i < 0``), so its two-sided permutation p is that of the neighbour
sum: :func:`spatial.inference.conditional_tails` on the indicator gives it
(exact when the indicator is a count and the table is small, else Monte
Carlo with ties counted as at least as extreme). Benjamini–Hochberg FDR and
the labels from the extreme tail, as for the hot-spot LISA
(:func:`spatial.significance.lisa_label_from_tails`).

What it means
-------------
``ASSOCIATION_NOT_CAUSE`` says it in words a page can show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial.inference import conditional_tails, could_any_pass
from spatial.significance import fdr_bh, lisa_label_from_tails
from spatial.weights import NeighbourGraph

ASSOCIATION_NOT_CAUSE = (
    "This map shows association, not cause. A High-High community has a high crime rate and neighbours "
    "with a high value of the indicator; that is where the two go together, not proof that one drives the "
    "other. Both may follow something not measured here (housing, policing, how incidents are reported), "
    "and figures for whole communities say nothing about individual residents."
)
CLUSTER_TYPES = ("High-High", "Low-Low", "High-Low", "Low-High")


@dataclass(frozen=True)
class BivariateLisa:
    """Bivariate local Moran per community and its calibrated significance.

    Attributes
    ----------
    I : numpy.ndarray
        esda's ``Is``; NaN for a community with no neighbour.
    quadrant : numpy.ndarray of int
        1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low (first word: the
        community's own crime rate; second: its neighbours' indicator); 0 for
        a community with no neighbour.
    p, p_fdr : numpy.ndarray
        Two-sided conditional-permutation p, and Benjamini–Hochberg adjusted
        (equal to ``p`` when ``fdr`` is off); NaN without neighbours.
    label : numpy.ndarray of str
        "High-High", "Low-Low", "High-Low", "Low-High", "Not significant" or
        "No neighbours".
    could_pass : bool
        Whether any community could have been significant at all.
    method, permutations, seed, alpha, fdr
        How the p-values were made (recorded with a run).
    """

    I: np.ndarray  # noqa: E741 -- the statistic's conventional name
    quadrant: np.ndarray
    p: np.ndarray
    p_fdr: np.ndarray
    label: np.ndarray
    could_pass: bool
    method: str
    permutations: int | None
    seed: int
    alpha: float
    fdr: bool


def _standardised(values: np.ndarray, what: str) -> np.ndarray:
    spread = values.std()
    if not spread > 0:
        raise ValueError(f"the {what} is the same everywhere: there is nothing to compare")
    return (values - values.mean()) / spread


def bivariate_statistic(crime_rate, indicator, graph: NeighbourGraph) -> tuple[np.ndarray, np.ndarray]:
    """esda ``Moran_Local_BV``'s ``Is`` and quadrants (row-standardised), islands as NaN / 0."""
    x = np.asarray(crime_rate, dtype=np.float64).ravel()
    y = np.asarray(indicator, dtype=np.float64).ravel()
    if not (len(x) == len(y) == graph.n):
        raise ValueError(f"{len(x)} rates and {len(y)} indicator values for {graph.n} communities")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("every community needs a crime rate and an indicator value (leave out the others)")
    zx, zy = _standardised(x, "crime rate"), _standardised(y, "indicator")
    k = graph.cardinalities
    island = k == 0
    lag = (graph.to_sparse() @ zy) / np.where(island, 1, k)
    local_i = (graph.n - 1) * zx * lag / (zx * zx).sum()
    high, high_lag = zx > 0, lag > 0
    quadrant = np.select([high & high_lag, ~high & high_lag, ~high & ~high_lag, high & ~high_lag], [1, 2, 3, 4])
    return np.where(island, np.nan, local_i), np.where(island, 0, quadrant)


def bivariate_local_moran(crime_rate, indicator, graph: NeighbourGraph, *, seed: int, permutations: int = 9999,
                          alpha: float = 0.05, fdr: bool = True) -> BivariateLisa:
    """Bivariate LISA of a crime rate (in each community) and an indicator (in its neighbours).

    Parameters
    ----------
    crime_rate : array_like, shape (n,)
        Rate per resident (raw or smoothed) of each community.
    indicator : array_like, shape (n,)
        The social factor in the same order.
    graph : NeighbourGraph
        Contiguity of the communities (for instance
        :func:`spatial.weights.polygon_neighbours`).
    seed : int
        Seed of the Monte Carlo draws (used when the exact test does not apply).
    permutations : int
        Monte Carlo permutations per community; 9,999 lets FDR pass over a
        few hundred communities (smallest p ``2 / (permutations + 1)``).
    alpha : float
        Level of the labels (after FDR when ``fdr``).
    fdr : bool
        Benjamini–Hochberg over the communities with neighbours.

    Returns
    -------
    BivariateLisa
    """
    local_i, quadrant = bivariate_statistic(crime_rate, indicator, graph)
    tails = conditional_tails(np.asarray(indicator, dtype=np.float64).ravel(), graph, seed=seed,
                              permutations=permutations)
    p_used = fdr_bh(tails.p) if fdr else tails.p
    return BivariateLisa(
        I=local_i, quadrant=quadrant, p=tails.p, p_fdr=p_used,
        label=lisa_label_from_tails(quadrant, tails.direction, p_used, alpha),
        could_pass=could_any_pass(tails.smallest_p, alpha, fdr), method=tails.method,
        permutations=tails.permutations, seed=seed, alpha=alpha, fdr=fdr,
    )
