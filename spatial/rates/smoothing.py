"""Rates per resident, and Empirical Bayes rates for small populations.

Why smooth
----------
A raw rate ``incidents / residents`` is noise where the population is
small: one incident in a village of 300 is "33 per 10,000". Empirical Bayes
(Marshall 1991; Bailey and Gatrell 1995, pp. 303-307) treats each place's
true rate as drawn from a prior whose mean and variance are estimated from
all places (global EB) or from the place and its neighbours (spatial EB),
and shrinks each raw rate toward that mean in proportion to how small its
population is: ``smoothed = mean + w (raw - mean)`` with
``w = variance / (variance + mean / population)``. A large population keeps
its raw rate; a tiny one takes the mean.

The formulas are esda's ``smoothing.Empirical_Bayes`` and
``Spatial_Empirical_Bayes`` (method of moments), with one difference: when
the estimated prior variance is negative (the raw rates vary less than
Poisson noise alone would make them), it is set to 0, so every rate takes
the mean. esda's spatial version does the same (``r_var[r_var < 0] = 0``);
esda's global version does not, and its weights then turn negative, pushing
rates *away* from the mean (a test shows it on a small table).

The functions here take places that all have a rate (positive
populations, non-negative counts); :mod:`spatial.rates.community` refuses
the others with a reason first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial.weights import NeighbourGraph


@dataclass(frozen=True)
class SmoothedRates:
    """Empirical Bayes rates (per resident) and the prior they were shrunk toward.

    Attributes
    ----------
    rate : numpy.ndarray
        Smoothed rate per resident.
    prior_mean, prior_variance : numpy.ndarray
        The mean the rate was shrunk toward and the estimated variance of
        true rates around it (0 where the estimate was negative). Equal for
        every place in global EB; one per place in spatial EB.
    weight : numpy.ndarray
        The weight the raw rate kept, ``variance / (variance + mean / population)``,
        in [0, 1]: near 1 for large populations, near 0 for tiny ones.
    """

    rate: np.ndarray
    prior_mean: np.ndarray
    prior_variance: np.ndarray
    weight: np.ndarray


def _shrink(raw: np.ndarray, population: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> SmoothedRates:
    variance = np.maximum(variance, 0.0)
    noise = mean / population
    total = variance + noise
    # total is 0 only where the prior mean and variance are both 0 (no incident anywhere
    # near): the raw rates are all 0 there, and so is the smoothed rate
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(total > 0, variance / np.where(total > 0, total, 1.0), 0.0)
    rate = mean + weight * (raw - mean)
    return SmoothedRates(rate=rate, prior_mean=mean, prior_variance=variance, weight=weight)


def _checked(events, population) -> tuple[np.ndarray, np.ndarray]:
    events = np.asarray(events, dtype=np.float64).ravel()
    population = np.asarray(population, dtype=np.float64).ravel()
    if events.shape != population.shape:
        raise ValueError(f"{len(events)} counts but {len(population)} populations")
    if not (np.all(np.isfinite(population)) and np.all(population > 0)):
        raise ValueError("every population must be a positive number (use community_rates to refuse the others)")
    if not (np.all(np.isfinite(events)) and np.all(events >= 0)):
        raise ValueError("every count must be a non-negative number")
    return events, population


def _global_prior(events: np.ndarray, population: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Raw rates, and the method-of-moments prior mean and variance over all places (unclipped)."""
    raw = events / population
    mean = float(events.sum() / population.sum())
    variance = float((population * (raw - mean) ** 2).sum() / population.sum() - mean / population.mean())
    return raw, mean, variance


def empirical_bayes(events, population) -> SmoothedRates:
    """Global Empirical Bayes rates: each raw rate shrunk toward the overall rate.

    Parameters
    ----------
    events : array_like, shape (n,)
        Incidents per place (non-negative).
    population : array_like, shape (n,)
        Residents per place (positive).

    Returns
    -------
    SmoothedRates
        Rates per resident. Prior mean ``sum(e) / sum(b)``; prior variance
        ``sum(b (r - mean)^2) / sum(b) - mean / mean(b)``, clipped at 0.
    """
    events, population = _checked(events, population)
    raw, mean, variance = _global_prior(events, population)
    return _shrink(raw, population, np.full(raw.shape, mean), np.full(raw.shape, variance))


def spatial_empirical_bayes(events, population, graph: NeighbourGraph) -> SmoothedRates:
    """Spatial Empirical Bayes rates: each raw rate shrunk toward its neighbourhood's rate.

    The neighbourhood of a place is the place and its neighbours in
    ``graph`` (esda ``Spatial_Empirical_Bayes``): prior mean
    ``sum(e) / sum(b)`` over the neighbourhood, prior variance
    ``sum(b (r - mean)^2) / sum(b) - mean / mean(b)`` over it, clipped at 0.
    A place with no neighbour is shrunk toward its own rate (kept as is).

    Parameters
    ----------
    events, population : array_like, shape (n,)
    graph : NeighbourGraph
        Neighbours of each place, in the same order.

    Returns
    -------
    SmoothedRates
    """
    events, population = _checked(events, population)
    if len(events) != graph.n:
        raise ValueError(f"{len(events)} places but the graph has {graph.n}")
    raw = events / population
    with_self = graph.to_sparse(self_weight=1.0)
    local_events = with_self @ events
    local_population = with_self @ population
    members = np.diff(with_self.indptr)
    mean = local_events / local_population
    # sum over each neighbourhood of b_j (r_j - mean_i)^2, edge by edge (no cancellation)
    rows = np.repeat(np.arange(graph.n), members)
    cols = with_self.indices
    spread = np.bincount(rows, weights=population[cols] * (raw[cols] - mean[rows]) ** 2, minlength=graph.n)
    variance = spread / local_population - mean / (local_population / members)
    return _shrink(raw, population, mean, variance)


def assuncao_reis(events, population) -> np.ndarray:
    """Assunção–Reis Empirical Bayes standardised rates (esda ``assuncao_rate``).

    ``z_i = (r_i - m) / sqrt(v_i)`` with ``m`` the overall rate and
    ``v_i = a + m / b_i`` the variance of place i's rate under the global EB
    prior; where ``v_i`` would be negative, ``m / b_i`` (Poisson noise only).
    Moran's I of these values is the rate Moran's I (Assunção and Reis 1999).
    """
    events, population = _checked(events, population)
    raw, mean, between = _global_prior(events, population)  # not clipped here, as esda
    variance = between + mean / population
    variance = np.where(variance < 0, mean / population, variance)
    if np.any(variance <= 0):
        raise ValueError("no incident in any place: rates are all 0 and cannot be standardised")
    return (raw - mean) / np.sqrt(variance)
