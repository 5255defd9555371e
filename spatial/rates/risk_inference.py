"""p-values for hot spots of risk: each neighbourhood's incidents against its residents, under constant risk.

Why not Gi* on the smoothed rates, permuted
-------------------------------------------
Two things go wrong, both measured (bench/rates_calibration.py,
tests/spatial/test_risk_inference.py):

- Permuting values assumes they are exchangeable under the null. Smoothed cell
  rates are not: where a cell holds few residents its rate is shrunk hard toward
  the overall rate, where it holds many it keeps its own noise, and residents per
  cell change from one community to the next, so like spreads sit together. On
  the parishes at resolution 9 (0.3 incidents a cell), 40 % of maps with no risk
  pattern at all showed a "95 %" spot.
- Global Empirical Bayes on cells of a few dozen residents usually finds the raw
  rates no more varied than Poisson noise (a negative prior variance, set to 0),
  and then every smoothed rate *is* the overall rate: nothing is left to test,
  even around a planted area of five times the risk.

The test used instead
---------------------
*Constant risk*: every resident is equally likely to be the victim of each of
the ``N`` incidents, so, given ``N``, the incidents of a neighbourhood (the cell
and its H3 neighbours, Gi*'s window) are ``Binomial(N, s)`` where ``s`` is the
neighbourhood's share of the residents. The p of each cell is exact, two-sided
``min(1, 2 * min(P(X >= o), P(X <= o)))`` with ties in both tails, as for
counts elsewhere: a fixed-window local scan of the neighbourhood's pooled rate
(the rate of its residents together, itself a spatial smoothing). Neither
permutations nor a floor: FDR can pass on any grid. The smoothed cell rates stay
what the map and the CSV show. A neighbourhood with no residents is not tested
(p = 1): a rate with no one at risk says nothing.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from spatial.inference import P_FLOOR, LocalTails, _tails
from spatial.weights import NeighbourGraph

CONSTANT_RISK = "exact-binomial-constant-risk"
CONSTANT_RISK_WORDS = ("two-sided exact p of the incidents of the cell and its neighbours against their share of "
                       "the residents under constant risk (every resident equally likely to be a victim: "
                       "Binomial given the total)")


def constant_risk_tails(counts: np.ndarray, residents: np.ndarray, graph: NeighbourGraph) -> LocalTails:
    """Two-sided p of each cell's neighbourhood count (the cell and its neighbours) under constant risk.

    Parameters
    ----------
    counts : array_like of int, shape (n,)
        Incidents per cell.
    residents : array_like, shape (n,)
        Residents per cell (0 where none).
    graph : NeighbourGraph
        Neighbours; islands (no neighbour) get NaN, as for every local statistic here.

    Returns
    -------
    LocalTails
        ``permutations`` is None (exact).
    """
    counts = np.asarray(counts, dtype=np.int64)
    residents = np.asarray(residents, dtype=np.float64)
    window = graph.to_sparse(self_weight=1.0)
    window.data[:] = 1.0
    observed = np.rint(window @ counts.astype(np.float64)).astype(np.int64)
    total_residents = residents.sum()
    share = np.clip(window @ residents / total_residents, 0.0, 1.0) if total_residents > 0 else np.zeros(len(counts))
    total = int(counts.sum())
    island = graph.cardinalities == 0
    untested = island | (share <= 0)
    upper = np.where(untested, 1.0, binom.sf(observed - 1, total, share))
    lower = np.where(untested, 1.0, binom.cdf(observed, total, share))
    # the most extreme a neighbourhood could be: all N incidents in it, or none
    smallest = np.where(untested, 1.0, np.minimum(1.0, 2.0 * np.maximum(
        np.minimum(share ** total, (1.0 - share) ** total), P_FLOOR)))
    upper[island] = lower[island] = smallest[island] = np.nan
    return _tails(upper, lower, smallest, CONSTANT_RISK, None)
