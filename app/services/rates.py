"""Crime per resident for a run's communities: raw, Empirical Bayes and spatial EB rates, rate Moran's I.

Counts
------
Police (analyst and above): each community's own incidents under the run's
filters (``incidents_by_community`` of its provenance, the figure its ranking shows).

Below analyst: the published count only, the sum of the run's cells shown
(``published_cells``: a cell under k adds nothing), exactly the figure the
ranking shows them. A community with nothing shown has its count hidden, so it
gets no rate, and it is left out of everything computed across communities (the
Empirical Bayes prior, the spatial neighbourhoods, Moran's I): every figure
returned is then a function of published counts and populations alone, and
none can be solved back to a hidden count. An exact community total is not
used: minus the cells shown it would give the sum of the hidden ones.
A scoped partner's rates are worked out over its own communities only.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import shapely

from app.errors import BadRequest, Conflict
from app.privacy import Audience
from app.runs import Run
from app.store.backends import Store
from spatial.rates.community import PER_1000, RATE_UNITS, RELIABLE_EVENTS, CommunityRates, community_rates, subgraph
from spatial.rates.moran_rate import MIN_PLACES, rate_moran
from spatial.weights import NeighbourGraph, polygon_neighbours

POPULATION = "population"
PERMUTATIONS = 9999
SIGNIFICANT = 0.05
POLICE_COUNTS = "each community's incidents under the run's filters (point in polygon)"
PUBLISHED_COUNTS = (
    "the published counts: the sum of the run's cells shown, where a cell under the privacy threshold adds "
    "nothing (so where cells are hidden the rate is a lower bound). A community with no cell shown has its "
    "count hidden: it gets no rate and takes no part in the smoothing or in Moran's I.")
SMALL_POPULATION_RULE = (
    f"Flagged when fewer than {RELIABLE_EVENTS} incidents would be expected at the overall rate: a rate from so "
    "few can move by more than a fifth by chance alone; read the smoothed rate there.")


def checked_per(per: int) -> int:
    """Residents a rate is expressed per: 1,000 or 10,000 (400 otherwise)."""
    if per not in RATE_UNITS:
        raise BadRequest(f"per must be 1000 or 10000 (rates per 1,000 or per 10,000 residents), not {per}.")
    return per


def population_of(store: Store, boundary_set_id: int,
                  rows: list[dict[str, Any]]) -> tuple[dict[int, float], dict[str, Any]] | None:
    """Residents per community id, and where they come from: the active uploaded population, else the
    boundary file's population attribute; None when neither is known."""
    figure = store.figures.active_figure(boundary_set_id, "population", POPULATION)
    if figure is not None:
        return figure["values"], {"from": "uploaded figures", "figure_id": figure["id"], "version": figure["version"],
                                  "year": figure["year"], "source": figure["source"], "unit": figure["unit"]}
    from_file = {int(r["community_id"]): float(r["population"]) for r in rows if r.get("population") is not None}
    if not from_file:
        return None
    return from_file, {"from": "boundary file", "figure_id": None, "version": None, "year": None, "source": None,
                       "unit": None}


def _counted(store: Store, run: Run, audience: Audience) -> list[dict[str, Any]]:
    """The run's communities this audience may see, each with the count it may be given (None: hidden)."""
    if run.kind.ranking is None:
        raise Conflict(f"Runs of kind '{run.kind.name}' have no figures per community to work rates from.")
    rows = store.runs.neighbourhood_figures(run.id, published=not audience.raw, kind=run.kind)
    if audience.raw:
        by_community = run.provenance.incidents_by_community
        for row in rows:
            if by_community is not None:
                row["incidents"] = by_community.get(str(row["community_id"]), 0)
        return rows
    shown = audience.keep(rows, key="community")
    for row in shown:
        row["incidents"] = int(row["incidents"]) or None  # a sum of nothing shown is hidden, not 0
    return shown


# Queen contiguity of detailed outlines takes seconds (1.7 s for the 77 Chicago areas) and a set's
# outlines never change: the last few graphs are kept, by the communities' ids and outlines.
_GRAPHS: OrderedDict[tuple[tuple[int, ...], str], NeighbourGraph] = OrderedDict()
GRAPHS_KEPT = 16


def community_neighbours(store: Store, run: Run, ids: list[int]) -> NeighbourGraph:
    """Queen contiguity among the run's communities ``ids`` (in that order)."""
    shapes = {s["id"]: s["wkb"] for s in store.boundaries.community_shapes(run.boundary_set_id, None)}
    outlines = [shapes[i] for i in ids]
    key = (tuple(ids), hashlib.sha256(b"".join(outlines)).hexdigest())
    graph = _GRAPHS.get(key)
    if graph is None:
        graph = polygon_neighbours([shapely.from_wkb(w) for w in outlines])
        _GRAPHS[key] = graph
        while len(_GRAPHS) > GRAPHS_KEPT:
            _GRAPHS.popitem(last=False)
    return graph


def _rounded(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 3)


def _moran(rates: CommunityRates, graph, seed: int) -> tuple[dict[str, Any] | None, str]:
    """Rate Moran's I over the communities with a rate, and what it says in words."""
    keep = rates.has_rate
    if int(keep.sum()) < MIN_PLACES:
        return None, (f"Too few communities to say whether high rates cluster: Moran's I needs at least {MIN_PLACES} "
                      f"communities with a rate, and there are {int(keep.sum())}.")
    try:
        found = rate_moran(rates.incidents[keep], rates.population[keep], subgraph(graph, keep), seed=seed,
                           permutations=PERMUTATIONS)
    except ValueError as exc:
        return None, f"Moran's I of the rates cannot be computed: {exc}."
    moran = found.moran
    shown = {"I": round(moran.I, 4), "expected": round(moran.expected, 4), "p_value": round(moran.p_sim, 4),
             "p_value_kind": "two-sided permutation", "permutations": moran.permutations, "seed": seed,
             "communities": int(keep.sum()), "weights": "queen contiguity, row-standardised",
             "standardisation": "Assunção–Reis Empirical Bayes (esda Moran_Rate)"}
    if moran.p_sim >= SIGNIFICANT:
        words = (f"No evidence that rates cluster: a pattern this strong arises by chance (p = {moran.p_sim:.3f}, "
                 f"I = {moran.I:.3f}).")
    elif moran.I > moran.expected:
        words = f"Communities with high rates tend to sit beside each other (I = {moran.I:.3f}, p = {moran.p_sim:.3f})."
    else:
        words = (f"High and low rates alternate between neighbours more than chance would make them "
                 f"(I = {moran.I:.3f}, p = {moran.p_sim:.3f}).")
    return shown, words


def run_rates(store: Store, run: Run, audience: Audience, *, per: int = PER_1000,
              with_moran: bool = True) -> dict[str, Any]:
    """Rates per ``per`` residents of a run's communities, as this audience may see them (see module notes)."""
    rows = _counted(store, run, audience)
    population = population_of(store, run.boundary_set_id, rows)
    if population is None:
        raise Conflict(f"No population is known for the communities of run {run.id}: upload one as a CSV "
                       "(POST /api/v1/communities/figures with kind 'population'), or use a boundary file "
                       "with a population field.")
    residents, source = population
    shown = [r for r in rows if r["incidents"] is not None]
    ids = [int(r["community_id"]) for r in shown]
    graph = community_neighbours(store, run, ids)
    rates = community_rates([r["incidents"] for r in shown], [residents.get(i) for i in ids], per=per,
                            graph=graph, names=[r["community"] for r in shown])
    moran, moran_words = _moran(rates, graph, run.seed or 0) if with_moran else (None, None)
    by_id = {i: k for k, i in enumerate(ids)}
    communities = []
    for row in rows:
        k = by_id.get(int(row["community_id"]))
        entry: dict[str, Any] = {"community_id": row["community_id"], "community": row["community"],
                                 "incidents": row["incidents"], "population": residents.get(int(row["community_id"]))}
        if k is None:
            entry.update(rate=None, smoothed_rate=None, spatial_smoothed_rate=None, expected_incidents=None,
                         small_population=None, verdict="Its count is under the privacy threshold, so its rate is hidden.")
        else:
            spatial = rates.spatial_smoothed[k] if rates.spatial_smoothed is not None else np.nan
            entry.update(rate=_rounded(rates.raw[k]), smoothed_rate=_rounded(rates.smoothed[k]),
                         spatial_smoothed_rate=_rounded(spatial), expected_incidents=_rounded(rates.expected[k]),
                         small_population=bool(rates.small_population[k]), verdict=rates.verdicts[k])
        if not audience.raw:
            entry["suppressed"] = k is None
        communities.append(entry)
    return {"run": run.id, "per": per, "population": source,
            "counted_from": POLICE_COUNTS if audience.raw else PUBLISHED_COUNTS,
            "overall_rate": _rounded(rates.overall), "small_population_rule": SMALL_POPULATION_RULE,
            "smoothing": "global Empirical Bayes toward the overall rate; spatial Empirical Bayes toward the rate of "
                         "each community with its queen-contiguity neighbours (Marshall 1991; esda smoothing)",
            "communities": communities, "rate_moran": moran, "rate_moran_says": moran_words}


def order_by_smoothed_rate(ranking: list[dict[str, Any]], rates: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranking re-ordered by smoothed rate (highest first; no rate last), each entry with its rates."""
    by_id = {r["community_id"]: r for r in rates["communities"]}
    for entry in ranking:
        found = by_id.get(entry["community_id"], {})
        entry["rate"], entry["smoothed_rate"] = found.get("rate"), found.get("smoothed_rate")
    ranking.sort(key=lambda e: (e["smoothed_rate"] is None, -(e["smoothed_rate"] or 0.0), e["community"]))
    for place, entry in enumerate(ranking, start=1):
        entry["rank"] = place
    return ranking


def community_rate(store: Store, run: Run, audience: Audience, community_id: int) -> dict[str, Any] | None:
    """One community's rates per 1,000 in a run (for its page), with the population's source; None when
    no population is known. The same figures as the run's rates for this audience."""
    try:
        found = run_rates(store, run, audience, per=PER_1000, with_moran=False)
    except Conflict:
        return None
    entry = next((c for c in found["communities"] if c["community_id"] == community_id), None)
    if entry is None:
        return None
    return {**entry, "per": found["per"], "population_source": found["population"], "run_id": run.id,
            "counted_from": found["counted_from"]}
