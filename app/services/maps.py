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
import json
import os
import tempfile
from functools import cache
from collections.abc import Sequence
from typing import cast
from pathlib import Path

import folium

from app.services.map_elements import (
    COLOUR_CHOICE,
    COLOUR_SCRIPT,
    MAP_CSS,
    accessible_page,
    STYLES,
    CellStyles,
    GeoJsonData,
    HtmlControl,
    InlineCellsLayer,
    LabelDeclutter,
    LegendFollowsLayers,
    OfflineMap,
    OutlineLayer,
    PaletteSwitch,
    PlaceLabels,
    StepSlider,
    TileCellsLayer,
    swatch,
)
from app.privacy import Audience
from app.services.backtests import backtest_words
from app.runs import Provenance, Run
from app.services.run_results import run_facts, step_labels, visible_completed_run
from app.services.run_words import confidence_test_words, run_title
from app.settings import Settings
from app.store.backends import Store
from spatial.evidence import NO_HOT_SPOT_NOTE
from spatial.kinds import DEFAULT_KIND, AnalysisKind
from spatial.kinds.base import ClassScheme

# Bump when the page's make-up changes, so saved pages are rebuilt.
MAP_VERSION = "10"
TILE_URL = "/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"
OUTLINE_LAYER = "Community boundaries"
PLACES_LAYER = "Towns and villages"
PLACES_FILE = Path(__file__).resolve().parent.parent / "data" / "kna_places.geojson"
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
    root.title = run_title(run)
    root.header.add_child(MAP_CSS)
    root.header.add_child(COLOUR_SCRIPT)  # before the map's script, which draws in the palette it chose
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
    PlaceLabels(places_within(bounds), PLACES_LAYER).add_to(fmap)
    HtmlControl(title_html(run, tiled, audience), "topleft", "hotspots-box hotspots-title").add_to(fmap)
    HtmlControl(legend_html(kind), "bottomright", "hotspots-box hotspots-legend").add_to(fmap)
    LegendFollowsLayers(layers).add_to(fmap)
    PaletteSwitch(list(zip(layers, STYLES, strict=True))).add_to(fmap)
    LabelDeclutter().add_to(fmap)
    words = backtest_words(run, audience or POLICE_VIEW)
    if words:
        HtmlControl("<h3>Would it have predicted?</h3>" + "".join(f"<p>{html.escape(w)}</p>" for w in words),
                    "bottomleft", "hotspots-box hotspots-backtest").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return accessible_page(root.render())


def legend_html(kind: AnalysisKind) -> str:
    """The kind's classes in the words planners read on desktop GIS maps (for Gi*: Esri's Gi_Bin
    classes and GeoDa's LISA classes), and what its confidence means.

    One section per class scheme (``data-scheme``: its layer's place); only the first layer is on at
    first, so the others start hidden and ``LegendFollowsLayers`` shows each with its layer. The legend
    is a ``<details>`` block, folded on small screens. It opens with the "Colour-blind-safe colours"
    switch (app/static/colours.js), each swatch carrying its colour in both palettes."""
    def rows(scheme: ClassScheme) -> str:
        return "".join(f'<div class="row">{swatch(c)}<span>{html.escape(c.label)}</span></div>'
                       for c in scheme.classes)

    sections = "".join(f'<div class="hotspots-legend-section" data-scheme="{i}"{"" if i == 0 else " hidden"}>'
                       f"<h4>{html.escape(s.legend_title)}</h4>" + rows(s) + "</div>"
                       for i, s in enumerate(kind.schemes))
    return ('<details open><summary>Legend</summary>' + COLOUR_CHOICE + sections
            + '<p class="hotspots-legend-none muted" hidden>No cell layer is shown: turn one on above.</p>'
            + f'<p class="hotspots-p-note">{html.escape(kind.legend_note)}</p></details>')


def download_links_html(run_id: int, printable: bool = True) -> str:
    """Links to the run's cells in each file format (the export route applies the reader's privacy tier
    and audits the download) and, for a kind with a print sheet (``printable``), to its print view."""
    base = f"/api/v1/analyses/{int(run_id)}/cells?format="
    links = " · ".join(f'<a href="{html.escape(base + fmt)}" download>{label}</a>' for fmt, label in DOWNLOADS)
    sheet = (f'<div class="hotspots-links"><a href="/print/analyses/{int(run_id)}" data-follows-colours>'
             "Print / save as PDF</a></div>"
             if printable else "")
    return f'<div class="hotspots-links">Download the cells: {links}</div>' + sheet


# The export formats offered as buttons, in the order a planner would look for them.
DOWNLOADS = (("csv", "CSV"), ("geojson&limit=10000", "GeoJSON"), ("gpkg", "GeoPackage"), ("shp", "Shapefile"),
             ("kml", "KML"))


@cache
def places() -> dict:
    """The gazetteer of towns and villages shipped with the service (app/data/kna_places.geojson), with
    only what a map draws (name and kind; the sources stay in the file)."""
    collection = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"name": f["properties"]["name"], "kind": f["properties"]["kind"]}}
        for f in collection["features"]]}


def places_within(bounds: Sequence[float] | None) -> dict:
    """The gazetteer's places inside ``bounds`` (west, south, east, north: the map's communities' extent),
    so a map of one parish does not name every town in the country; None (no extent): all of them."""
    collection = places()
    if bounds is None:
        return collection
    west, south, east, north = bounds
    return {"type": "FeatureCollection", "features": [
        f for f in collection["features"]
        if west <= f["geometry"]["coordinates"][0] <= east and south <= f["geometry"]["coordinates"][1] <= north]}


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
    return (f"<h3>{html.escape(run_title(run))}</h3>" + synthetic + changed +
            f"<div>{html.escape(' · '.join(facts))}</div>"
            + f'<div class="hotspots-test">Test: {html.escape(confidence_test_words(run))}</div>'
            + (f'<div class="hotspots-evidence"><strong>{html.escape(verdict)}</strong></div>' if verdict else "")
            + note
            + download_links_html(run.id, printable=run.kind.name == DEFAULT_KIND)
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
