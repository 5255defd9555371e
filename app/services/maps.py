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
from typing import cast
from pathlib import Path

import folium

from app.services.map_elements import (
    MAP_CSS,
    STYLES,
    CellStyles,
    GeoJsonData,
    HtmlControl,
    InlineCellsLayer,
    OfflineMap,
    OutlineLayer,
    StepSlider,
    TileCellsLayer,
)
from app.privacy import Audience
from app.services.backtests import backtest_words
from app.runs import Provenance, Run
from app.services.run_results import run_facts, step_labels, visible_completed_run
from app.settings import Settings
from app.store.backends import Store
from spatial.evidence import NO_HOT_SPOT_NOTE
from spatial.kinds import AnalysisKind

# Bump when the page's make-up changes, so saved pages are rebuilt.
MAP_VERSION = "6"
TILE_URL = "/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"
OUTLINE_LAYER = "Community boundaries"
# Who a page built without an audience is for (bench scripts, saved police pages): police.
POLICE_VIEW = Audience(role="analyst", raw=True, min_count=0, max_resolution=15, hold_back_days=0, communities=None)


def maps_dir(settings: Settings) -> Path:
    return settings.static_dir / "maps"


def map_page(store: Store, settings: Settings, run_id: int, audience: Audience) -> Path:
    """The saved map page of a completed run as ``audience`` may see it, built first if it is missing."""
    run = visible_completed_run(store, run_id, audience, waiting="its map is drawn once it has completed")
    prefix = f"run-{run_id}-{audience.cache_key()}-"
    path = maps_dir(settings) / f"{prefix}{_page_key(settings, run, audience)}.html"
    if not path.is_file():
        _write_atomically(path, build_map_html(store, settings, run, audience))
        for stale in path.parent.glob(f"{prefix}*.html"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path


def uses_tiles(settings: Settings, run: Run) -> bool:
    return run.provenance.cells > settings.map_inline_max_cells


def build_map_html(store: Store, settings: Settings, run: Run, audience: Audience | None = None) -> str:
    """The map page of a completed run as HTML text (``audience`` None: police, everything shown)."""
    restricted = audience is not None and not audience.raw
    min_count = audience.min_count if audience is not None and restricted else None
    kind = run.kind
    communities = [c for c in run.provenance.communities
                   if audience is None or audience.sees_community(c["name"])]
    scope = None
    if audience is not None and audience.communities is not None:
        scope = [c["id"] for c in communities]
    outlines, bounds = store.maps.communities_feature_collection([c["id"] for c in communities])
    west, south, east, north = bounds or (-180.0, -85.0, 180.0, 85.0)
    fmap = OfflineMap(location=[(south + north) / 2, (west + east) / 2], zoom_start=11, tiles=None,
                      control_scale=True)
    root = cast(folium.Figure, fmap.get_root())
    root.title = f"{kind.heading} {run.id}"
    root.header.add_child(MAP_CSS)
    if bounds:  # before any layer, so no tiles are asked for at the provisional zoom and then cancelled
        fmap.fit_bounds([[south, west], [north, east]])
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution or "Basemap",
                         name="Basemap", overlay=False, control=True).add_to(fmap)
    steps = step_labels(run)
    CellStyles(kind, min_count=min_count, steps=steps).add_to(fmap)
    tiled = uses_tiles(settings, run)
    layers: list[folium.map.Layer] = []
    if tiled:  # the tiles are shaped for the audience by the tile service
        url = TILE_URL.replace("{run_id}", str(int(run.id)))
        for i, (scheme, style) in enumerate(zip(kind.schemes, STYLES, strict=True)):
            layers.append(TileCellsLayer(url, style, scheme.layer, show=i == 0))
    else:
        cells = GeoJsonData(store.maps.cells_feature_collection(
            run.id, min_count=min_count, scope=scope, kind=kind))
        cells.add_to(fmap)
        for i, (scheme, style) in enumerate(zip(kind.schemes, STYLES, strict=True)):
            layers.append(InlineCellsLayer(cells, style, scheme.layer, show=i == 0))
    for layer in layers:
        layer.add_to(fmap)
    stepped = [i for i, scheme in enumerate(kind.schemes) if scheme.field == kind.stepped_field]
    if stepped and steps:
        StepSlider(layers[stepped[0]], layers[1 - stepped[0]], STYLES[stepped[0]]).add_to(fmap)
    outline_data = GeoJsonData(outlines)
    outline_data.add_to(fmap)
    OutlineLayer(outline_data, OUTLINE_LAYER).add_to(fmap)
    HtmlControl(title_html(run, tiled, audience), "topleft", "hotspots-box hotspots-title").add_to(fmap)
    HtmlControl(legend_html(kind), "bottomright", "hotspots-box hotspots-legend").add_to(fmap)
    words = backtest_words(run, audience or POLICE_VIEW)
    if words:
        HtmlControl("<h3>Would it have predicted?</h3>" + "".join(f"<p>{html.escape(w)}</p>" for w in words),
                    "bottomleft", "hotspots-box hotspots-backtest").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return root.render()


def legend_html(kind: AnalysisKind) -> str:
    """The kind's classes in the words planners read on desktop GIS maps (for Gi*: Esri's Gi_Bin
    classes and GeoDa's LISA classes), and what its confidence means."""
    def rows(scheme) -> str:
        return "".join(f'<div class="row"><span class="swatch" style="background:{c.colour}"></span>'
                       f"<span>{html.escape(c.label)}</span></div>" for c in scheme.classes)

    return ("<h3>Legend</h3>" + "".join(f"<h4>{html.escape(s.legend_title)}</h4>" + rows(s) for s in kind.schemes)
            + f'<p class="hotspots-p-note">{html.escape(kind.legend_note)}</p>')


def title_html(run: Run, tiled: bool, audience: Audience | None = None) -> str:
    provenance = run.provenance
    facts = run_facts(run, audience)
    note = ""
    if audience is not None and not audience.raw:
        note = (f"<div>Counts under {audience.min_count} are not shown"
                + ("; only your communities are drawn" if audience.communities is not None else "")
                + ".</div>")
    verdict = _verdict(provenance, audience)
    if provenance.inference == "analytic":
        note += ("<div>Classes from the analytic p, as ArcGIS does: it over-reports hot spots on sparse counts "
                 "(the default conditional test does not).</div>")
    synthetic = ('<div class="hotspots-synthetic"><strong>SYNTHETIC incidents</strong>: generated for a '
                 "demonstration, not police data.</div>") if provenance.synthetic else ""
    changed = (f'<div class="hotspots-data-changed"><strong>Data changed since this run</strong>: '
               f"{html.escape(run.data_changed)}</div>") if run.data_changed else ""
    return (f"<h3>{html.escape(run.kind.heading)} {int(run.id)}</h3>" + synthetic + changed +
            f"<div>{html.escape(' · '.join(facts))}</div>"
            + ("<div>Cells are drawn from vector tiles.</div>" if tiled else "")
            + (f'<div class="hotspots-evidence"><strong>{html.escape(verdict)}</strong></div>' if verdict else "")
            + note
            + '<div><a href="/">All communities and runs</a></div>')


def _verdict(provenance: Provenance, audience: Audience | None) -> str | None:
    """"Too few incidents to conclude" with figures for police; below analyst only what the published
    classes show (see run_results.shared_provenance)."""
    evidence = provenance.evidence or {}
    if audience is None or audience.raw:
        return evidence.get("message")
    if audience.communities is not None:
        return None
    if "hot_cells" not in evidence:  # already shaped for this audience
        return evidence.get("message")
    return None if evidence.get("hot_cells") else NO_HOT_SPOT_NOTE


def _page_key(settings: Settings, run: Run, audience: Audience) -> str:
    """Changes whenever the saved page would differ: another run with this id, another basemap, audience, ..."""
    parts = [MAP_VERSION, str(run.id), str(run.finished_at), str(run.created_at),
             str(run.data_changed_at), str((run.provenance.document.get("backtest") or {}).get("computed_at")),
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
