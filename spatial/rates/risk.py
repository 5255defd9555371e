"""Hot spots of risk: the smoothed crime rate of each H3 cell, the value a rate run analyses.

A count run asks where incidents are many; a rate run asks where they are
many *for the people who live there*. Each community's residents are spread
over the cells it overlaps by area (:mod:`spatial.rates.areal`); each cell's
rate per 1,000 residents is then shrunk toward the overall rate by global
Empirical Bayes (:mod:`spatial.rates.smoothing`), because a cell of a few
dozen residents has a raw rate that is mostly noise: the map and the CSV show
those smoothed rates. Whether a neighbourhood is a hot spot of risk (its class
and z) is tested on its incidents against its residents, allowing for risk that
varies from cell to cell without a spatial pattern; local and global Moran's I
use each cell's Empirical Bayes standardised rate
(:mod:`spatial.rates.risk_inference`, which says why neither the smoothed rates,
nor constant risk, nor permuting standardised rates will do).

A cell with no residents (its communities' share of it is 0) has no rate of
its own: it takes the overall rate, which is where Empirical Bayes puts a
place of population zero, so it neither makes nor hides a hot spot.
Cells are those of the run's grid (a cell belongs to the community holding
its centre): residents of the slivers of edge cells whose centre lies outside
every community analysed are not on the grid; the provenance says how many.
A rate run is refused, in words, when any community analysed has no known
population (its cells would get no residents, and so no rate), or when the
residents known are too few for a rate at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatial.inference import LocalTails
from spatial.rates.risk_inference import poisson_gamma_tails, standardised_rates
from spatial.weights import NeighbourGraph
from spatial.rates.areal import CellPopulation, cell_rates, interpolate_population
from spatial.rates.community import PER_1000, RELIABLE_EVENTS


class RatesRefused(ValueError):
    """No rate can be worked out for the cells: the message is for planners."""


@dataclass(frozen=True)
class CellRisk:
    """Residents and rates of a run's cells (same order as the grid), per ``per`` residents."""

    per: int
    residents: np.ndarray
    raw: np.ndarray  # NaN where a cell has no residents
    smoothed: np.ndarray  # the value shown: global EB rate, the overall rate where no residents
    standardised: np.ndarray  # what Moran's I reads: Assunção–Reis standardised rate, 0 where no residents
    overall: float
    without_residents: int
    small_population: int  # cells where fewer than RELIABLE_EVENTS incidents are expected
    residents_total: float  # the communities' populations; those of edge cells off the grid are not in it

    def summary(self) -> dict[str, Any]:
        """For the run's provenance: what was analysed, and a plain-words verdict on the populations."""
        cells = len(self.residents)
        notes = []
        if self.without_residents:
            notes.append(f"{self.without_residents:,} of {cells:,} cells have no residents; they take the overall "
                         "rate, so they neither make nor hide a hot spot.")
        if cells and self.small_population > cells / 2:
            notes.append(f"{self.small_population:,} of {cells:,} cells hold too few residents for their own rate to "
                         f"mean much (fewer than {RELIABLE_EVENTS} incidents expected in each): their smoothed rates "
                         "lean on the overall rate, so a hot spot of risk shows only where several neighbouring "
                         "cells stand out together.")
        on_grid = float(np.nansum(self.residents))
        if self.residents_total - on_grid > 0.005 * self.residents_total:
            notes.append(f"{self.residents_total - on_grid:,.0f} of {self.residents_total:,.0f} residents live in "
                         "cells at the outer edge whose centre lies outside every community analysed, so those "
                         "cells are not on the grid; the rates of the cells on it are not affected.")
        return {"value": "rate", "per": self.per, "overall_rate": round(self.overall, 4),
                "residents": round(on_grid, 1), "residents_total": round(self.residents_total, 1),
                "cells_without_residents": self.without_residents,
                "cells_with_small_population": self.small_population,
                "smoothing": "global Empirical Bayes per cell (method of moments), residents spread by area",
                "moran_values": "Assunção–Reis Empirical Bayes standardised rate per cell",
                "notes": notes}


def place_residents(polygons: Sequence, populations: Sequence[float | None], names: Sequence[str],
                    resolution: int) -> CellPopulation:
    """The communities' residents spread onto H3 cells by area, or a refusal in words.

    Raises
    ------
    RatesRefused
        When a community has no population, or none has residents.
    """
    missing = [name for name, p in zip(names, populations) if p is None or not np.isfinite(float(p))]
    if missing:
        raise RatesRefused(
            f"No population is known for {', '.join(missing)}: a rate run needs the residents of every community "
            "analysed. Upload populations (Populations and social factors) or leave these communities out.")
    if float(np.sum([float(p) for p in populations if p is not None])) <= 0:
        raise RatesRefused("The communities analysed have no residents on record, so there is no rate to map.")
    return interpolate_population(polygons, populations, resolution)


def risk_of_cells(placed: CellPopulation, cells: np.ndarray, counts: np.ndarray, per: int = PER_1000) -> CellRisk:
    """Each grid cell's residents and global Empirical Bayes rate from residents already placed."""
    rates = cell_rates(placed, cells, counts, per=per)
    if not np.isfinite(rates.overall):
        raise RatesRefused("None of the cells analysed has residents, so there is no rate to map.")
    has_rate = rates.has_rate
    smoothed = np.where(has_rate, rates.smoothed, rates.overall)
    residents = np.where(np.isnan(rates.population), 0.0, rates.population)
    return CellRisk(per=per, residents=residents, raw=rates.raw, smoothed=smoothed,
                    standardised=standardised_rates(counts, residents), overall=float(rates.overall),
                    without_residents=int((~has_rate).sum()), small_population=int(rates.small_population.sum()),
                    residents_total=float(placed.population.sum()))


def cell_risk(cells: np.ndarray, counts: np.ndarray, polygons: Sequence, populations: Sequence[float | None],
              names: Sequence[str], resolution: int, per: int = PER_1000) -> CellRisk:
    """Residents spread onto ``cells`` by area and their global Empirical Bayes rates.

    Parameters
    ----------
    cells : numpy.ndarray of int64
        The run's grid cells, ascending.
    counts : numpy.ndarray
        Incidents per cell (same order).
    polygons, populations, names : sequences
        The communities analysed (longitude/latitude), their residents and names.
    resolution : int
        The grid's H3 resolution.

    Raises
    ------
    RatesRefused
        When a community has no population, or the residents known are too few for a rate.
    """
    return risk_of_cells(place_residents(polygons, populations, names, resolution), cells, counts, per=per)


def risk_null(counts: np.ndarray, risk: CellRisk) -> Callable[[NeighbourGraph], LocalTails]:
    """The tails of a rate run's cells: each neighbourhood's incidents against its residents under
    iid Gamma risk (:mod:`spatial.rates.risk_inference`)."""
    def tails(graph: NeighbourGraph) -> LocalTails:
        return poisson_gamma_tails(counts, risk.residents, graph)
    return tails
