"""p-values for hot spots of risk: conditional permutation of Empirical Bayes standardised rates.

What a null for rates must allow
--------------------------------
Risk varies from cell to cell for reasons with no spatial pattern at all (a
pub here, a car park there): the counts are *over-dispersed* against the
residents. A hot spot of risk is a place where risk is high *together* with its
neighbours, not a place where one cell is higher than the average. Two nulls
fail this, both measured (bench/rates_calibration.py, tests/spatial/test_risk_inference.py):

- Gi* on the smoothed rates, permuted: smoothed rates are not exchangeable
  (a cell of few residents is shrunk hard toward the overall rate, one of many
  keeps its noise, and like populations sit together), so maps with no pattern
  show "95 %" spots (40 % of maps on the parishes at resolution 9).
- The exact binomial test of each neighbourhood's incidents against its share
  of the residents under *constant* risk (this module's former test): it treats
  any over-dispersion as clustering. On null maps of iid Gamma risk (shape 4, or
  shape 1) with no spatial pattern it showed 95 % spots on most maps.

The test used
-------------
Each cell's Assunção–Reis standardised rate (Assunção and Reis 1999; esda
``assuncao_rate``, the value esda's ``Moran_Rate`` and ``Moran_Local_Rate``
analyse): ``(r_i - m) / sqrt(a + m / b_i)``, the raw rate's distance from the
overall rate ``m`` in units of its own standard deviation under the global
Empirical Bayes prior (variance ``a`` between cells, estimated by method of
moments from the data, and Poisson noise ``m / b_i``). Standardising puts a cell
of 20 residents and one of 2,000 on one scale, and ``a`` absorbs non-spatial
over-dispersion. The cells' standardised rates are then tested by conditional
permutation (the cell keeps its value, its neighbours are drawn from the other
cells), with sequential Monte Carlo and a budget large enough for the 99 % class
after FDR (:mod:`spatial.sequential`). If residents and risk carry no spatial
pattern, the cells' (incidents, residents) pairs are exchangeable, so the
permutation p is valid whatever the shape of the risk's spread. Gi*'s z and the
Gi_Bin class both come from these standardised rates, so the z's sign and the
class agree (a class whose sign disagrees with z is dropped, never shown).

A cell with no residents has no rate: its standardised rate is 0 (the overall
rate), so it neither makes nor hides a hot spot.
"""

from __future__ import annotations

import numpy as np

from spatial.inference import LocalTails
from spatial.rates.smoothing import assuncao_reis
from spatial.sequential import permutations_for_grid, sequential_tails
from spatial.weights import NeighbourGraph

STANDARDISED_RISK = "sequential-monte-carlo-conditional-eb-standardised-rates"
STANDARDISED_RISK_WORDS = ("two-sided conditional-permutation p (sequential Monte Carlo) of the neighbours' "
                           "Assunção–Reis Empirical Bayes standardised rates: a neighbourhood whose residents' "
                           "rates stand out together, allowing for risk that varies from cell to cell without "
                           "any spatial pattern")


def standardised_rates(counts: np.ndarray, residents: np.ndarray) -> np.ndarray:
    """Assunção–Reis standardised rate of each cell; 0 where the cell has no residents.

    Parameters
    ----------
    counts : array_like of int, shape (n,)
        Incidents per cell.
    residents : array_like, shape (n,)
        Residents per cell (0 where none).
    """
    counts = np.asarray(counts, dtype=np.float64)
    residents = np.asarray(residents, dtype=np.float64)
    values = np.zeros(len(counts))
    housed = residents > 0
    if counts[housed].sum() > 0:  # no incident where anyone lives: every rate is 0, nothing stands out
        values[housed] = assuncao_reis(counts[housed], residents[housed])
    return values


def standardised_risk_tails(counts: np.ndarray, residents: np.ndarray, graph: NeighbourGraph, *, seed: int,
                            alpha: float, permutations: int = 999) -> LocalTails:
    """Two-sided conditional-permutation p of each cell's neighbours' standardised rates.

    Parameters
    ----------
    counts, residents : array_like, shape (n,)
        Incidents and residents per cell.
    graph : NeighbourGraph
        Neighbours; islands (no neighbour) get NaN, as for every local statistic here.
    seed : int
        Seed of the permutations (the same seed gives the same p).
    alpha : float
        The run's FDR level; the budget of draws lets one cell alone reach the 99 % class.
    permutations : int
        The fewest draws a cell still in doubt gets.

    Returns
    -------
    LocalTails
        ``method`` is :data:`STANDARDISED_RISK`; ``permutations`` the budget.
    """
    values = standardised_rates(counts, residents)
    tested = int((np.asarray(graph.cardinalities) > 0).sum())
    tails = sequential_tails(values, graph, seed=seed,
                             permutations=permutations_for_grid(tested, alpha, at_least=permutations))
    return LocalTails(p=tails.p, upper=tails.upper, lower=tails.lower, direction=tails.direction,
                      smallest_p=tails.smallest_p, method=STANDARDISED_RISK, permutations=tails.permutations)
