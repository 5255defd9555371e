"""Global Moran's I of rates, Empirical Bayes standardised (Assunção and Reis 1999).

Moran's I of raw rates mistakes the noise of small populations for pattern:
a few villages with wild rates dominate it. Assunção and Reis standardise
each rate by its own standard error under the global Empirical Bayes prior
(:func:`spatial.rates.smoothing.assuncao_reis`) and take Moran's I of those
values; this is esda ``Moran_Rate(e, b, w, adjusted=True)``.

Significance is the service's permutation test of global Moran's I
(:func:`spatial.stats.moran_global`): uniformly random relabellings of the
standardised values, ties counted as at least as extreme in both directions,
two-sided. The standardised values are not counts, so ties are decided with
the tolerance described in :mod:`spatial.moran_permutation`. Row-standardised
weights, as esda's default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial.rates.smoothing import assuncao_reis
from spatial.stats import MoranResult, moran_global
from spatial.weights import NeighbourGraph

# Global Moran's I compares each place with its neighbours: with very few places it says nothing.
MIN_PLACES = 10


@dataclass(frozen=True)
class RateMoran:
    """Rate Moran's I and what it rests on.

    Attributes
    ----------
    moran : MoranResult
        I, its analytic p-values and the permutation p (``p_sim``, two-sided).
    standardised : numpy.ndarray
        The Assunção–Reis values the statistic was computed on.
    """

    moran: MoranResult
    standardised: np.ndarray

    @property
    def I(self) -> float:  # noqa: E743 -- the statistic's conventional name
        """Moran's I of the standardised rates."""
        return self.moran.I


def rate_moran(events, population, graph: NeighbourGraph, *, seed: int, permutations: int = 9999) -> RateMoran:
    """Global Moran's I of Empirical Bayes standardised rates, with its permutation p.

    Parameters
    ----------
    events : array_like, shape (n,)
        Incidents per place (non-negative).
    population : array_like, shape (n,)
        Residents per place (positive; refuse the others first, see
        :func:`spatial.rates.community.community_rates`).
    graph : NeighbourGraph
        Neighbours of the places, same order (row-standardised weights).
    seed : int
        Seed of the relabellings (recorded in the result).
    permutations : int
        Relabellings (0 skips the permutation p).

    Returns
    -------
    RateMoran
    """
    if graph.n < MIN_PLACES:
        raise ValueError(f"rate Moran's I needs at least {MIN_PLACES} places with a rate, got {graph.n}")
    standardised = assuncao_reis(events, population)
    if len(standardised) != graph.n:
        raise ValueError(f"{len(standardised)} places but the graph has {graph.n}")
    if np.ptp(standardised) == 0:
        raise ValueError("every place has the same rate: there is no pattern to measure")
    return RateMoran(moran_global(standardised, graph, seed=seed, permutations=permutations), standardised)
