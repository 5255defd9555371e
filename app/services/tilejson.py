"""TileJSON 3.0 documents for the tile layers, shaped for the audience (app/services/tiles.py draws the tiles).

A run's hotspots layer lists the properties every kind's features have and
the kind's own (spatial/kinds); below analyst its statistics are left out.
"""

from __future__ import annotations

from typing import Any

from app.errors import NotFound
from app.privacy import Audience
from app.services import run_words
from app.services.tiles import INCIDENT_POINTS_MIN_ZOOM, LAYERS, MAX_ZOOM, TileCache, finished_run, zoom_for_resolution
from app.store.backends import Store
from spatial.kinds import AnalysisKind

# The properties every kind's features have; the kind adds its own (``tile_descriptions``).
COMMON_HOTSPOT_FIELDS = {
    "cell": "H3 cell index (hex string)",
    "resolution": "H3 resolution of this feature's cell (coarser than the run's at low zoom)",
    "incidents": "Incidents in the cell that lie in the communities analysed (summed over its cells when "
                 "aggregated; for audiences other than police only the cells shown are summed); left out "
                 "below the privacy threshold",
    "suppressed": "true where the incidents count is left out because it is under the privacy threshold",
    "community": "Community name (run-resolution cells only)",
    "cells": "Number of run cells aggregated into this feature (aggregated features only)",
}


def hotspot_fields(kind: AnalysisKind, raw: bool) -> dict[str, str]:
    """A run's TileJSON fields: the common ones and the kind's; audiences other than police get the
    classes and protected counts only (no statistic to solve back)."""
    hidden = set(kind.tile_fields) - set(kind.published_tile_fields) if not raw else set()
    return {**COMMON_HOTSPOT_FIELDS,
            **{name: text for name, text in kind.tile_descriptions.items() if name not in hidden}}


COMMUNITY_FIELDS = {
    "id": "Community id", "name": "Community name",
    "incidents": "Incidents in the community (for audiences other than police: without sensitive categories, "
                 "left out below the privacy threshold)",
    "suppressed": "true where the incidents count is left out because it is under the privacy threshold",
}
INCIDENT_FIELDS = {
    "id": "Incident id (points only)", "category": "Category (points only)", "source": "Source feed (points only)",
    "occurred_at": "When it happened, UTC (points only)",
    "cell": "H3 cell of the count (aggregated only)", "resolution": "H3 resolution of the count (aggregated only)",
    "incidents": "Incidents in this H3 cell within the tile (aggregated only)",
}


def tilejson(layer: str, tiles_url: str, bounds: tuple[float, float, float, float] | None, *,
             maxzoom: int, description: str, fields: dict[str, str], name: str) -> dict[str, Any]:
    """A TileJSON 3.0.0 document for one layer."""
    west, south, east, north = bounds or (-180.0, -85.0511, 180.0, 85.0511)
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, min(maxzoom, 12)],
        "vector_layers": [{"id": layer, "description": description, "minzoom": 0, "maxzoom": maxzoom,
                           "fields": fields}],
    }


def layer_tilejson(store: Store, cache: TileCache, layer: str, tiles_url: str,
                   run_id: int | None, audience: Audience) -> dict[str, Any]:
    """TileJSON for ``layer`` as ``audience`` may see it; hotspots needs a finished run it may see."""
    names = None if audience.communities is None else sorted(audience.communities)
    if layer == "hotspots":
        run = finished_run(store, cache, run_id, audience)
        bounds: tuple[float, float, float, float] | None = run.bounds
        if names is not None:
            scope = store.boundaries.community_ids_named(run.boundary_set_id, names)
            bounds = store.tiles.run_extent(run.id, scope) if scope else None
        return tilejson(layer, tiles_url, bounds, maxzoom=zoom_for_resolution(run.resolution),
                        name=run_words.run_title(run.run) + (" (SYNTHETIC incidents)" if run.synthetic else ""),
                        fields=hotspot_fields(run.kind, audience.raw),
                        description=("SYNTHETIC incidents, generated for a demonstration. " if run.synthetic else "")
                        + f"{run.kind.title} of run {run.id} on H3 resolution-{run.resolution} "
                                    "cells; " + ("coarser H3 parents at low zoom." if names is None else
                                                 "only the cells of your communities, at every zoom."))
    if layer == "communities":
        return tilejson(layer, tiles_url, store.tiles.active_communities_extent(names), maxzoom=16,
                        name="Communities", fields=COMMUNITY_FIELDS,
                        description="Communities of the active boundary set, with incident counts.")
    if layer == "incidents":
        return tilejson(layer, tiles_url, store.tiles.incidents_extent(), maxzoom=MAX_ZOOM,
                        name="Incidents", fields=INCIDENT_FIELDS,
                        description=f"Incidents: counts per H3 cell, points from zoom {INCIDENT_POINTS_MIN_ZOOM} "
                                    "where a tile holds few enough. Restricted to analysts.")
    raise NotFound(f"There is no tile layer {layer!r}; layers are {', '.join(LAYERS)}.")
