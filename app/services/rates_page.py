"""The rates map page of a run: communities coloured by smoothed crime rate, or by crime rate and a factor.

Every figure comes from :func:`app.services.rates.run_rates` (and the bivariate table from
:func:`app.services.factors.crime_beside_factor`) for the reader's audience, so below analyst
the rates are worked out from published counts only and a community whose count is hidden
is drawn as hidden, never coloured. Outlines are the public boundary set's.

Classes
-------
- Smoothed rate: five quantile classes of the rates shown, ColorBrewer YlOrRd (readable
  with the common colour-vision deficiencies).
- Crime rate x indicator: terciles of each (3 x 3), Joshua Stevens' green-blue bivariate
  palette (colour-blind safe), with its legend square.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely

from app.errors import Conflict
from app.privacy import Audience
from app.services import factors as factor_service
from app.services import rates as rate_service
from app.services import run_results
from app.store.backends import Store

RATE_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
HIDDEN_COLOUR = "#bdbdbd"
# BIVARIATE[rate tercile][indicator tercile], low to high
BIVARIATE = (("#e8e8e8", "#b5c0da", "#6c83b5"),
             ("#b8d6be", "#90b2b3", "#567994"),
             ("#73ae80", "#5a9178", "#2a5a5b"))
TERCILES = ("low", "middle", "high")
SIMPLIFY_DEGREES = 0.0002  # ~20 m: outlines for a map page, not for measuring


def quantile_breaks(values: list[float], classes: int) -> list[float]:
    """Upper bounds of all classes but the last, at equal shares of the values (fewer when values repeat)."""
    if not values:
        return []
    breaks = np.quantile(np.asarray(values, dtype=float), np.arange(1, classes) / classes)
    return sorted({round(float(b), 3) for b in breaks})


def class_of(value: float, breaks: list[float]) -> int:
    """The class of ``value``: the number of breaks below it (a value on a break goes to the lower class)."""
    return int(np.searchsorted(np.asarray(breaks), value, side="left"))


def _outlines(store: Store, set_id: int, ids: set[int]) -> dict[int, Any]:
    shapes = [s for s in store.boundaries.community_shapes(set_id, None) if s["id"] in ids]
    geometries = shapely.simplify(shapely.from_wkb([s["wkb"] for s in shapes]), SIMPLIFY_DEGREES,
                                  preserve_topology=True)
    rounded = shapely.set_precision(geometries, 1e-5)
    return {s["id"]: json.loads(shapely.to_geojson(g)) for s, g in zip(shapes, rounded)}


def _indicators(store: Store, set_id: int) -> list[str]:
    return sorted({f["name"] for f in store.figures.list_figures(set_id) if f["kind"] == "indicator" and f["active"]})


def rates_page(store: Store, run_id: int, audience: Audience, indicator: str | None) -> dict[str, Any]:
    """What the rates page shows: the map's features and legend, the table, and the words."""
    run = run_results.visible_completed_run(store, run_id, audience)
    context: dict[str, Any] = {"run": run, "synthetic": run.synthetic, "indicators": _indicators(
        store, run.boundary_set_id), "indicator": indicator, "hidden_colour": HIDDEN_COLOUR}
    try:
        rates = rate_service.run_rates(store, run, audience)
    except Conflict as exc:  # no population known: the page says so instead of a map
        return {**context, "refused": str(exc)}
    shown = [c for c in rates["communities"] if c["smoothed_rate"] is not None]
    breaks = quantile_breaks([c["smoothed_rate"] for c in shown], len(RATE_COLOURS))
    legend = _rate_legend(breaks, rates["per"]) if shown else []
    if indicator and indicator not in context["indicators"]:
        # a stale link or a hand-typed name: the page says so and shows the rates alone (never a JSON 404)
        shown_name = indicator if len(indicator) <= 80 else indicator[:80] + "…"
        context.update(indicator=None, indicator_missing=(
            f"There is no indicator '{shown_name}' for these communities, so the map shows the smoothed rate "
            "alone. " + ("Choose one of the list." if context["indicators"] else
                         "No social-factor indicators are uploaded for these communities.")))
        indicator = None
    bivariate = factor_service.crime_beside_factor(store, run, audience, indicator) if indicator else None
    by_community = {r["community_id"]: r for r in bivariate["communities"]} if bivariate else {}
    rate_breaks = indicator_breaks = []
    if bivariate:
        rate_breaks = quantile_breaks([r["smoothed_rate"] for r in bivariate["communities"]], 3)
        indicator_breaks = quantile_breaks([r["indicator"] for r in bivariate["communities"]], 3)
    outlines = _outlines(store, run.boundary_set_id, {c["community_id"] for c in rates["communities"]})
    features = []
    for entry in rates["communities"]:
        properties = {key: entry.get(key) for key in ("community", "community_id", "population", "rate",
                                                      "smoothed_rate", "small_population")}
        if entry["smoothed_rate"] is None:
            properties.update(colour=HIDDEN_COLOUR, hidden=True, note=entry.get("verdict"))
        elif bivariate:
            paired = by_community.get(entry["community_id"])
            if paired is None:
                properties.update(colour=HIDDEN_COLOUR, hidden=True, note="No value of the indicator.")
            else:
                r, c = class_of(paired["smoothed_rate"], rate_breaks), class_of(paired["indicator"], indicator_breaks)
                properties.update(colour=BIVARIATE[r][c], indicator=paired["indicator"], cluster=paired["cluster"],
                                  classes=f"crime rate {TERCILES[r]}, {indicator} {TERCILES[c]}")
        else:
            properties["colour"] = RATE_COLOURS[class_of(entry["smoothed_rate"], breaks)]
        features.append({"type": "Feature", "geometry": outlines.get(entry["community_id"]),
                         "properties": properties})
    return {**context, "rates": rates, "legend": legend, "bivariate": bivariate,
            "bivariate_colours": BIVARIATE, "terciles": TERCILES,
            "features": {"type": "FeatureCollection", "features": [f for f in features if f["geometry"]]}}


def _rate_legend(breaks: list[float], per: int) -> list[dict[str, str]]:
    """One entry per class: its colour and its range in words."""
    bounds = [None, *breaks, None]
    entries = []
    for i in range(len(breaks) + 1):
        low, high = bounds[i], bounds[i + 1]
        if low is None and high is None:
            words = "every rate shown"
        elif low is None:
            words = f"up to {high:,.2f}"
        elif high is None:
            words = f"over {low:,.2f}"
        else:
            words = f"{low:,.2f} – {high:,.2f}"
        entries.append({"colour": RATE_COLOURS[i], "label": f"{words} per {per:,}"})
    return entries
