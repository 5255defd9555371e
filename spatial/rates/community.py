"""Rates per community for planners: raw, smoothed, flagged, and said in words.

Refused places
--------------
A place whose population is missing, zero, negative or not a number, or
whose incident count is missing or negative, gets no rate (NaN) and a reason
in words; it takes no part in the overall rate or in anyone's smoothing, and
nothing is divided by zero.

The small-population rule
-------------------------
A rate is flagged when fewer than ``RELIABLE_EVENTS`` (20) incidents would be
expected at the overall rate: with a Poisson count the relative standard
error of the rate is ``1 / sqrt(expected)``, above 22 % below 20 (the
threshold under which the US National Center for Health Statistics calls
rates unreliable). The flag depends on the population (through the overall
rate), not on the place's own count, so it does not move with the crime it
describes. Where the place's own count is below 20 as well, nothing can be
said from its raw rate: its verdict says so in plain words and points to the
smoothed rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spatial.rates.smoothing import empirical_bayes, spatial_empirical_bayes
from spatial.weights import NeighbourGraph, graph_from_csr

PER_1000 = 1_000
PER_10000 = 10_000
RATE_UNITS = (PER_1000, PER_10000)
# Fewer expected incidents than this: relative standard error of the rate above 1/sqrt(20) = 22 %
RELIABLE_EVENTS = 20


@dataclass(frozen=True)
class CommunityRates:
    """Rates of a set of places, per ``per`` residents; NaN where refused.

    Attributes
    ----------
    per : int
        Residents the rates are expressed per (1,000 or 10,000).
    incidents, population : numpy.ndarray
        As given (NaN where missing).
    raw : numpy.ndarray
        ``incidents / population * per``.
    smoothed : numpy.ndarray
        Global Empirical Bayes rate per ``per``.
    spatial_smoothed : numpy.ndarray or None
        Spatial Empirical Bayes rate per ``per`` (None when no neighbours were given).
    expected : numpy.ndarray
        Incidents expected at the overall rate.
    overall : float
        The overall rate per ``per`` over the places with a rate (NaN if none).
    small_population : numpy.ndarray of bool
        Fewer than ``RELIABLE_EVENTS`` incidents expected (see module notes).
    refused : list of (str or None)
        Why a place has no rate, in words; None where it has one.
    verdicts : list of (str or None)
        Plain-words verdict per place where its rate cannot be taken at face
        value (refused, or too few incidents and residents); None otherwise.
    """

    per: int
    incidents: np.ndarray
    population: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray
    spatial_smoothed: np.ndarray | None
    expected: np.ndarray
    overall: float
    small_population: np.ndarray
    refused: list[str | None]
    verdicts: list[str | None]

    @property
    def has_rate(self) -> np.ndarray:
        """True for the places that have a rate."""
        return np.array([reason is None for reason in self.refused], dtype=bool)


def refusal(count: float, population: float) -> str | None:
    """Why no rate can be given for one place, in words (None when it can)."""
    if not math.isfinite(population):
        return "its population is missing"
    if population <= 0:
        return "its population is zero" if population == 0 else "its population is negative"
    if not math.isfinite(count):
        return "its incident count is missing"
    if count < 0:
        return "its incident count is negative"
    return None


def _as_float(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in np.asarray(values, dtype=object).ravel()],
                    dtype=np.float64)


def subgraph(graph: NeighbourGraph, keep: np.ndarray) -> NeighbourGraph:
    """The neighbour graph among the kept places only."""
    matrix = graph.to_sparse()[keep][:, keep].tocsr()
    return graph_from_csr(matrix.indptr, matrix.indices, int(keep.sum()))


def verdict(name: str, incidents: float, population: float, expected: float, per: int,
            reason: str | None) -> str | None:
    """The plain-words verdict on one place's rate, with its figures (None when it stands)."""
    if reason is not None:
        return f"No rate for {name}: {reason}."
    if incidents >= RELIABLE_EVENTS or expected >= RELIABLE_EVENTS:
        return None
    return (f"Too few to say from the raw rate of {name}: {incidents:,.0f} incidents among "
            f"{population:,.0f} residents, where about {expected:.1f} would be expected at the overall "
            f"rate. A rate from fewer than {RELIABLE_EVENTS} incidents can move by more than a fifth by "
            f"chance alone, so read the smoothed rate, which leans on the overall rate for that reason.")


def community_rates(incidents, population, *, per: int = PER_1000, graph: NeighbourGraph | None = None,
                    names: Sequence[str] | None = None) -> CommunityRates:
    """Raw and Empirical Bayes rates per ``per`` residents, with flags and verdicts.

    Parameters
    ----------
    incidents : array_like, shape (n,)
        Incidents per place; None or NaN where unknown.
    population : array_like, shape (n,)
        Residents per place; None, NaN, 0 or negative are refused with a reason.
    per : {1000, 10000}
        Residents per rate unit.
    graph : NeighbourGraph, optional
        Neighbours of the places (same order), for the spatial EB rate.
        Refused places are left out of their neighbours' neighbourhoods.
    names : sequence of str, optional
        Place names for the verdicts (default "place 1", "place 2", ...).

    Returns
    -------
    CommunityRates
    """
    if per not in RATE_UNITS:
        raise ValueError(f"rates are given per 1,000 or per 10,000 residents, not per {per}")
    counts, residents = _as_float(incidents), _as_float(population)
    n = len(counts)
    if len(residents) != n or (graph is not None and graph.n != n) or (names is not None and len(names) != n):
        raise ValueError("incidents, population, graph and names must describe the same places")
    names = list(names) if names is not None else [f"place {i + 1}" for i in range(n)]
    refused = [refusal(c, b) for c, b in zip(counts.tolist(), residents.tolist())]
    keep = np.array([reason is None for reason in refused], dtype=bool)
    raw, smoothed, expected = (np.full(n, np.nan) for _ in range(3))
    spatial = np.full(n, np.nan) if graph is not None else None
    overall = np.nan
    if keep.any():
        e, b = counts[keep], residents[keep]
        overall_per_resident = e.sum() / b.sum()
        overall = overall_per_resident * per
        raw[keep] = e / b * per
        expected[keep] = b * overall_per_resident
        smoothed[keep] = empirical_bayes(e, b).rate * per
        if spatial is not None and graph is not None:
            spatial[keep] = spatial_empirical_bayes(e, b, subgraph(graph, keep)).rate * per
    with np.errstate(invalid="ignore"):
        small = keep & (expected < RELIABLE_EVENTS)
    verdicts = [verdict(names[i], counts[i], residents[i], expected[i], per, refused[i]) for i in range(n)]
    return CommunityRates(per=per, incidents=counts, population=residents, raw=raw, smoothed=smoothed,
                          spatial_smoothed=spatial, expected=expected, overall=float(overall),
                          small_population=small, refused=refused, verdicts=verdicts)
