"""p-values for hot spots of risk: each neighbourhood's incidents against its residents, allowing for
risk that varies from cell to cell without any spatial pattern (a Poisson–gamma null).

What a null for rates must allow
--------------------------------
Risk differs from cell to cell for reasons with no spatial pattern (a bar here,
a car park there): counts are *over-dispersed* against the residents. A hot spot
of risk is a neighbourhood whose risk is high *together*, beyond what such
scattered variation makes likely. Three nulls were measured and rejected
(bench/rates_calibration.py, tests/spatial/test_risk_inference.py):

- Gi* on the smoothed rates, permuted: smoothed rates are not exchangeable
  (few residents: shrunk hard; many: keep their noise; like populations sit
  together): 95 % spots on 40 % of maps with no pattern.
- The exact binomial of each neighbourhood under *constant* risk (this module's
  former test): it calls any over-dispersion clustering. On null maps with iid
  Gamma risk it showed 95 % spots on a third (shape 4) to all (shape 1) of maps.
- Conditional permutation of Assunção–Reis standardised rates (as esda's
  ``Moran_Local_Rate``): valid when cells are exchangeable, but residents are
  spread by area, the same in every cell of a community, so small communities'
  cells (whose standardised rates swing widely) sit together: on a town of
  districts of 2–60 residents a cell, every null map showed a spot.

The test used
-------------
Each cell's incidents are Poisson with mean ``m * b_j * theta_j``: ``m`` the
overall rate, ``b_j`` its residents, ``theta_j`` its own risk multiplier, drawn
independently from a Gamma of mean 1 and squared coefficient of variation
``c`` (Poisson–gamma, the model of global Empirical Bayes). ``c`` is estimated
from the data by the method of moments, as the Empirical Bayes prior variance
(``a / m^2``; 0 when the rates vary no more than Poisson noise, which gives the
plain Poisson test). A neighbourhood (the cell and its H3 neighbours, Gi*'s
window) then expects ``E = m * sum(b_j)`` incidents with variance
``E + c * sum((m b_j)^2)``; its count is referred to the negative binomial of
that mean and variance (the sum of the gammas matched by its first two
moments). The p is two-sided, ``min(1, 2 * min(P(X >= o), P(X <= o)))``, ties in
both tails, as for counts elsewhere: no permutations, no floor. A spatial
cluster inflates ``c`` too, which costs a little power and never makes a
spot.

The ``z`` of a cell is the same test's: the normal score of its two-sided p,
signed by the tail (``+`` hot), so the class and z never disagree. A
neighbourhood with no residents is not tested (p = 1).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import nbinom, norm, poisson

from spatial.inference import P_FLOOR, LocalTails, _tails
from spatial.rates.smoothing import assuncao_reis
from spatial.weights import NeighbourGraph

POISSON_GAMMA = "poisson-gamma-neighbourhood"
POISSON_GAMMA_WORDS = ("two-sided p of the incidents of the cell and its neighbours against their residents, "
                       "allowing for risk that varies from cell to cell without a spatial pattern (negative "
                       "binomial: Poisson–gamma, the spread of risk estimated from the data)")


def standardised_rates(counts: np.ndarray, residents: np.ndarray) -> np.ndarray:
    """Assunção–Reis standardised rate of each cell (esda ``assuncao_rate``); 0 where no residents.

    The values local Moran's I and global Moran's I of a rate run are computed on (the rate
    Moran's I of Assunção and Reis 1999).
    """
    counts = np.asarray(counts, dtype=np.float64)
    residents = np.asarray(residents, dtype=np.float64)
    values = np.zeros(len(counts))
    housed = residents > 0
    if counts[housed].sum() > 0:  # no incident where anyone lives: every rate is 0, nothing stands out
        values[housed] = assuncao_reis(counts[housed], residents[housed])
    return values


def risk_dispersion(counts: np.ndarray, residents: np.ndarray) -> float:
    """Squared coefficient of variation of risk between cells, ``a / m^2``, by method of moments (>= 0).

    ``a`` is global Empirical Bayes' prior variance of the cells' rates
    (:func:`spatial.rates.smoothing.empirical_bayes`), ``m`` the overall rate; cells without residents
    are left out.
    """
    counts = np.asarray(counts, dtype=np.float64)
    residents = np.asarray(residents, dtype=np.float64)
    housed = residents > 0
    events, people = counts[housed], residents[housed]
    if events.sum() <= 0:
        return 0.0
    mean = events.sum() / people.sum()
    between = (people * (events / people - mean) ** 2).sum() / people.sum() - mean / people.mean()
    return max(0.0, float(between) / mean ** 2)


def poisson_gamma_tails(counts: np.ndarray, residents: np.ndarray, graph: NeighbourGraph) -> LocalTails:
    """Two-sided p of each cell's neighbourhood count (the cell and its neighbours) under iid Gamma risk.

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
        ``permutations`` is None (no Monte Carlo); ``z`` the signed normal score of the p.
    """
    counts = np.asarray(counts, dtype=np.int64)
    residents = np.asarray(residents, dtype=np.float64)
    window = graph.to_sparse(self_weight=1.0)
    window.data[:] = 1.0
    observed = np.rint(window @ counts.astype(np.float64))
    housed_total = residents.sum()
    rate = counts[residents > 0].sum() / housed_total if housed_total > 0 else 0.0
    expected_cell = rate * residents
    expected = window @ expected_cell
    island = graph.cardinalities == 0
    untested = island | (expected <= 0)
    mean = np.where(untested, 1.0, expected)
    spread = risk_dispersion(counts, residents)
    if spread > 0:
        # the gammas of the window summed, matched by mean and variance: shape E^2 / (c * sum (m b_j)^2)
        shape = mean ** 2 / (spread * np.where(untested, 1.0, window @ expected_cell ** 2))
        chance = shape / (shape + mean)
        upper, lower = nbinom.sf(observed - 1, shape, chance), nbinom.cdf(observed, shape, chance)
    else:
        upper, lower = poisson.sf(observed - 1, mean), poisson.cdf(observed, mean)
    upper = np.where(untested, 1.0, upper)
    lower = np.where(untested, 1.0, lower)
    # the upper tail has no end: any neighbourhood could have been extreme enough
    smallest = np.where(untested, 1.0, 2.0 * P_FLOOR)
    upper[island] = lower[island] = smallest[island] = np.nan
    tails = _tails(upper, lower, smallest, POISSON_GAMMA, None)
    with np.errstate(invalid="ignore"):
        z = tails.direction * norm.isf(tails.p / 2.0)
    return LocalTails(p=tails.p, upper=tails.upper, lower=tails.lower, direction=tails.direction,
                      smallest_p=tails.smallest_p, method=POISSON_GAMMA, permutations=None,
                      z=np.where(island, np.nan, z), risk_spread=spread)
