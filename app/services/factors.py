"""Crime beside a social factor: bivariate local Moran of a run's smoothed crime rate and an indicator.

The crime rate is the global Empirical Bayes rate per 1,000 residents of
:func:`app.services.rates.run_rates`, so below analyst it comes from published
counts only and the communities whose count is hidden are left out, as there.
The indicator is the active version of an uploaded figure. The table says, for
each community, whether it is a High-High, Low-Low, High-Low or Low-High
cluster (its own rate, its neighbours' indicator), with the calibrated
conditional-permutation inference of :mod:`spatial.rates.bivariate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.errors import NotFound
from app.privacy import Audience
from app.runs import Run
from app.services.rates import community_neighbours, run_rates
from app.store.backends import Store
from spatial.rates.bivariate import ASSOCIATION_NOT_CAUSE, bivariate_local_moran
from spatial.rates.moran_rate import MIN_PLACES

PERMUTATIONS = 9999


def _indicator(store: Store, run: Run, name: str) -> dict[str, Any]:
    found = store.figures.active_figure(run.boundary_set_id, "indicator", name)
    if found is None:
        known = sorted({f["name"] for f in store.figures.list_figures(run.boundary_set_id)
                        if f["kind"] == "indicator" and f["active"]})
        raise NotFound(f"There is no indicator '{name}' for the communities of run {run.id}. "
                       + (f"Uploaded indicators: {', '.join(known)}." if known else
                          "Upload one first (POST /api/v1/communities/figures with kind 'indicator')."))
    return found


def crime_beside_factor(store: Store, run: Run, audience: Audience, indicator: str) -> dict[str, Any]:
    """The bivariate LISA table of a run's smoothed rates and one indicator, with what it means in words."""
    figure = _indicator(store, run, indicator)
    rates = run_rates(store, run, audience, with_moran=False)
    rows = [r for r in rates["communities"] if r["smoothed_rate"] is not None and r["community_id"] in figure["values"]]
    left_out = sorted(r["community"] for r in rates["communities"] if r not in rows)
    table = [{"community_id": r["community_id"], "community": r["community"], "rate": r["rate"],
              "smoothed_rate": r["smoothed_rate"], "indicator": figure["values"][r["community_id"]],
              "local_i": None, "cluster": None, "p_value": None} for r in rows]
    body: dict[str, Any] = {
        "run": run.id, "per": rates["per"], "counted_from": rates["counted_from"],
        "indicator": {k: figure[k] for k in ("name", "unit", "year", "source", "version")},
        "rate_used": "the smoothed (global Empirical Bayes) rate per 1,000 residents",
        "association_not_cause": ASSOCIATION_NOT_CAUSE, "left_out": left_out, "inference": None,
        "communities": table}
    if len(rows) < MIN_PLACES:
        body["says"] = (f"Too few communities to say where crime and {indicator} go together: the bivariate "
                        f"local Moran needs at least {MIN_PLACES} communities with a rate and a value, and there are "
                        f"{len(rows)}.")
        return body
    graph = community_neighbours(store, run, [r["community_id"] for r in rows])
    try:
        found = bivariate_local_moran([r["smoothed_rate"] for r in rows], [t["indicator"] for t in table], graph,
                                      seed=run.seed or 0, permutations=PERMUTATIONS)
    except ValueError as exc:
        body["says"] = f"The bivariate local Moran cannot be computed: {exc}."
        return body
    for entry, local_i, label, p in zip(table, found.I.tolist(), found.label.tolist(), found.p_fdr.tolist()):
        entry.update(local_i=None if not np.isfinite(local_i) else round(float(local_i), 6), cluster=label,
                     p_value=None if not np.isfinite(p) else round(float(p), 4))
    body["inference"] = {"method": found.method, "permutations": found.permutations, "seed": found.seed,
                         "alpha": found.alpha, "fdr": "Benjamini-Hochberg" if found.fdr else None,
                         "weights": "queen contiguity, row-standardised"}
    clusters = sum(label not in ("Not significant", "No neighbours") for label in found.label.tolist())
    if not found.could_pass:
        body["says"] = ("Too few communities for any to be significant after the correction for testing each one: "
                        "no cluster can be shown.")
    else:
        body["says"] = (f"{clusters} of {len(rows)} communities sit in a cluster of crime rate and {indicator} "
                        f"(significant at {found.alpha:.0%} after the Benjamini-Hochberg correction).")
    return body
