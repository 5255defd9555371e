"""The hotspot map of a run: a Folium page saved under ``static/maps/`` and rebuilt when missing.

Small runs inline their cells as GeoJSON; runs with more than
``settings.map_inline_max_cells`` cells draw from the vector tiles
(``/tiles/hotspots/{z}/{x}/{y}.mvt?run=ID``) so the page stays small.
Everything the page loads comes from this service unless a basemap is configured.

Pages are shaped for their audience (app/privacy.py): below analyst only runs
the audience may see open (else 404), counts under k are null and the tooltip
says "fewer than k", and a partner gets only its communities' cells and
outlines. The saved file's name carries ``Audience.cache_key``, so a page made
for police is never served to anyone else.
"""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
from pathlib import Path
from typing import Any

import folium

from app.errors import Conflict, NotFound
from app.services.map_elements import (
    GI_CLASSES,
    LISA_CLASSES,
    MAP_CSS,
    CellStyles,
    GeoJsonData,
    HtmlControl,
    InlineCellsLayer,
    OfflineMap,
    OutlineLayer,
    TileCellsLayer,
)
from app.privacy import Audience
from app.settings import Settings
from app.store.backends import Store
from spatial.evidence import NO_HOT_SPOT_NOTE

# Bump when the page's make-up changes, so saved pages are rebuilt.
MAP_VERSION = "4"
TILE_URL = "/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"
GI_LAYER = "Hot and cold spots (Gi*)"
LISA_LAYER = "Clusters and outliers (LISA)"
OUTLINE_LAYER = "Community boundaries"


def maps_dir(settings: Settings) -> Path:
    return settings.static_dir / "maps"


def map_page(store: Store, settings: Settings, run_id: int, audience: Audience) -> Path:
    """The saved map page of a completed run as ``audience`` may see it, built first if it is missing."""
    run = store.runs.get_run(run_id)
    if run is None or not audience.sees_run(run):
        raise NotFound(f"There is no analysis run {run_id}.")
    if run["status"] != "completed":
        raise Conflict(f"Run {run_id} is {run['status']}; its map is drawn once it has completed.",
                       details={"status": run["status"], "error": run["error"]})
    prefix = f"run-{run_id}-{audience.cache_key()}-"
    path = maps_dir(settings) / f"{prefix}{_page_key(settings, run, audience)}.html"
    if not path.is_file():
        _write_atomically(path, build_map_html(store, settings, run, audience))
        for stale in path.parent.glob(f"{prefix}*.html"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path


def uses_tiles(settings: Settings, run: dict[str, Any]) -> bool:
    return int((run.get("provenance") or {}).get("cells") or 0) > settings.map_inline_max_cells


def build_map_html(store: Store, settings: Settings, run: dict[str, Any],
                   audience: Audience | None = None) -> str:
    """The map page of a completed run as HTML text (``audience`` None: police, everything shown)."""
    provenance = run.get("provenance") or {}
    restricted = audience is not None and not audience.raw
    communities = [c for c in provenance.get("communities", [])
                   if audience is None or audience.sees_community(c["name"])]
    scope = None
    if audience is not None and audience.communities is not None:
        scope = [c["id"] for c in communities]
    outlines, bounds = store.maps.communities_feature_collection([c["id"] for c in communities])
    west, south, east, north = bounds or (-180.0, -85.0, 180.0, 85.0)
    fmap = OfflineMap(location=[(south + north) / 2, (west + east) / 2], zoom_start=11, tiles=None,
                      control_scale=True)
    root = fmap.get_root()
    root.title = f"Hotspot run {run['id']}"
    root.header.add_child(MAP_CSS)
    if bounds:  # before any layer, so no tiles are asked for at the provisional zoom and then cancelled
        fmap.fit_bounds([[south, west], [north, east]])
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution or "Basemap",
                         name="Basemap", overlay=False, control=True).add_to(fmap)
    CellStyles(min_count=audience.min_count if restricted else None).add_to(fmap)
    tiled = uses_tiles(settings, run)
    if tiled:  # the tiles are shaped for the audience by the tile service
        url = TILE_URL.replace("{run_id}", str(int(run["id"])))
        TileCellsLayer(url, "giStyle", GI_LAYER).add_to(fmap)
        TileCellsLayer(url, "lisaStyle", LISA_LAYER, show=False).add_to(fmap)
    else:
        cells = GeoJsonData(store.maps.cells_feature_collection(
            run["id"], min_count=audience.min_count if restricted else None, scope=scope))
        cells.add_to(fmap)
        InlineCellsLayer(cells, "giStyle", GI_LAYER).add_to(fmap)
        InlineCellsLayer(cells, "lisaStyle", LISA_LAYER, show=False).add_to(fmap)
    outline_data = GeoJsonData(outlines)
    outline_data.add_to(fmap)
    OutlineLayer(outline_data, OUTLINE_LAYER).add_to(fmap)
    HtmlControl(title_html(run, tiled, audience), "topleft", "hotspots-box hotspots-title").add_to(fmap)
    HtmlControl(legend_html(), "bottomright", "hotspots-box hotspots-legend").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return root.render()


def legend_html() -> str:
    """Esri's Gi_Bin classes and GeoDa's LISA classes, in the words planners read on desktop GIS maps."""
    def rows(classes: list[tuple[str, str]]) -> str:
        return "".join(f'<div class="row"><span class="swatch" style="background:{colour}"></span>'
                       f"<span>{html.escape(label)}</span></div>" for label, colour in classes)

    return ("<h3>Legend</h3><h4>Hot and cold spots (Gi*, Gi_Bin)</h4>"
            + rows([(label, colour) for _, label, colour in GI_CLASSES])
            + "<h4>Clusters and outliers (LISA)</h4>" + rows(LISA_CLASSES)
            + f'<p class="hotspots-p-note">{html.escape(P_VALUE_NOTE)}</p>')


# What a class means, in one sentence (issue: every map says what its p-values are)
P_VALUE_NOTE = ("Confidence comes from comparing each cell's neighbourhood with every other arrangement of the "
                "same counts (ties count against significance), corrected for testing many cells at once (FDR): "
                "on random data, a map shows any 95 % hot spot at most about 1 time in 20.")


def title_html(run: dict[str, Any], tiled: bool, audience: Audience | None = None) -> str:
    params = run.get("parameters") or {}
    provenance = run.get("provenance") or {}
    window = " – ".join(str(params.get(k) or "…")[:10] for k in ("start", "end")) if (
        params.get("start") or params.get("end")) else "all dates"
    finished = run.get("finished_at")
    used = provenance.get("incidents_used", 0)
    if audience is not None and not audience.raw:
        # Even rounded, the run's total minus the cells shown would bound the hidden ones.
        incidents = "total not published"
    else:
        incidents = f"{used:,} incidents"
    facts = [f"H3 resolution {params.get('resolution')}", f"{provenance.get('cells', 0):,} cells", incidents, window]
    if finished is not None:
        facts.append(f"finished {finished:%Y-%m-%d %H:%M}")
    note = ""
    if audience is not None and not audience.raw:
        note = (f"<div>Counts under {audience.min_count} are not shown"
                + ("; only your communities are drawn" if audience.communities is not None else "")
                + ".</div>")
    verdict = _verdict(provenance, audience)
    if (provenance.get("significance") or {}).get("inference") == "analytic":
        note += ("<div>Classes from the analytic p, as ArcGIS does: it over-reports hot spots on sparse counts "
                 "(the default conditional test does not).</div>")
    synthetic = ('<div class="hotspots-synthetic"><strong>SYNTHETIC incidents</strong>: generated for a '
                 "demonstration, not police data.</div>") if provenance.get("synthetic") else ""
    changed = (f'<div class="hotspots-data-changed"><strong>Data changed since this run</strong>: '
               f"{html.escape(run['data_changed'])}</div>") if run.get("data_changed") else ""
    return (f"<h3>Hotspot run {int(run['id'])}</h3>" + synthetic + changed +
            f"<div>{html.escape(' · '.join(facts))}</div>"
            + ("<div>Cells are drawn from vector tiles.</div>" if tiled else "")
            + (f'<div class="hotspots-evidence"><strong>{html.escape(verdict)}</strong></div>' if verdict else "")
            + note
            + '<div><a href="/">All communities and runs</a></div>')


def _verdict(provenance: dict[str, Any], audience: Audience | None) -> str | None:
    """"Too few incidents to conclude" with figures for police; below analyst only what the published
    classes show (see run_results.shared_provenance)."""
    evidence = provenance.get("evidence") or {}
    if audience is None or audience.raw:
        return evidence.get("message")
    if audience.communities is not None:
        return None
    if "hot_cells" not in evidence:  # already shaped for this audience
        return evidence.get("message")
    return None if evidence.get("hot_cells") else NO_HOT_SPOT_NOTE


def _page_key(settings: Settings, run: dict[str, Any], audience: Audience) -> str:
    """Changes whenever the saved page would differ: another run with this id, another basemap, audience, ..."""
    parts = [MAP_VERSION, str(run["id"]), str(run.get("finished_at")), str(run.get("created_at")),
             str(run.get("data_changed_at")),
             settings.basemap_url or "", settings.basemap_attribution, str(uses_tiles(settings, run)),
             audience.cache_key()]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".html")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
