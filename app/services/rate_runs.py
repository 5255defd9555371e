"""Rate runs (hot spots of risk): the populations they need, and each cell's smoothed rate.

A hotspot run with ``value: rate`` (app/services/analyses.py) is refused before it is queued when a
community it analyses has no population; when it runs, the communities' residents are spread onto its
grid and each cell's Empirical Bayes rate worked out (spatial/rates/risk.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from app.errors import BadRequest
from app.runs import Run
from app.services import rates
from app.store.backends import Store
from spatial.grid import CommunityGrid
from spatial.hotspots import AnalysisRefused
from spatial.rates.community import PER_1000
from spatial.rates.risk import CellRisk, RatesRefused, cell_risk


def check_populations(store: Store, set_id: int, shapes: list[dict[str, Any]]) -> None:
    """A rate run needs every community's residents: refused now, in words, rather than failing later."""
    known = populations_of(store, set_id, shapes)
    missing = sorted(s["name"] for s in shapes if known.get(s["id"]) is None)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise BadRequest(f"A rate run needs the population of every community analysed; none is known for {shown}. "
                         "Upload populations (hotspots figures upload, or POST /api/v1/communities/figures) or leave these "
                         "communities out.")


def populations_of(store: Store, set_id: int, shapes: list[dict[str, Any]]) -> dict[int, float | None]:
    """Residents per community id: the active uploaded population, else the boundary file's attribute."""
    found = rates.population_of(store, set_id, [{"community_id": s["id"], "population": s.get("population")}
                                                for s in shapes])
    values = found[0] if found else {}
    return {s["id"]: values.get(s["id"]) for s in shapes}


def cell_risk_of_run(store: Store, run: Run, shapes: list[dict[str, Any]], grid: CommunityGrid,
                     counts: np.ndarray) -> CellRisk:
    """Each cell's smoothed rate per 1,000 residents (spatial/rates/risk.py), or the run refused in words."""
    populations = populations_of(store, run.boundary_set_id, shapes)
    try:
        return cell_risk(grid.cells, counts, shapely.from_wkb([s["wkb"] for s in shapes]),
                         [populations[s["id"]] for s in shapes], [s["name"] for s in shapes], grid.resolution,
                         per=int(run.parameters.document.get("rate_per") or PER_1000))
    except RatesRefused as exc:
        raise AnalysisRefused(str(exc)) from exc
