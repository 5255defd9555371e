"""Folium elements for the hotspot map, every script and stylesheet served by the service itself.

Folium's own ``Map`` pulls Leaflet, jQuery, Bootstrap and Font Awesome from
CDNs; ``OfflineMap`` links only the locally served Leaflet (nothing here needs
the others). Cell styles and tooltips are JavaScript functions over the cell's
attributes, so one copy of the cells' GeoJSON serves both the Gi* and the LISA
layer, and the vector-tile layer uses the very same functions.
"""

from __future__ import annotations

import json

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

from spatial.kinds import AnalysisKind
from spatial.kinds.base import PALETTES, CellClass, Palette

VENDOR = "/static/vendor"
LEAFLET_JS = f"{VENDOR}/leaflet/leaflet.js"
LEAFLET_CSS = f"{VENDOR}/leaflet/leaflet.css"
VECTORGRID_JS = f"{VENDOR}/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"
# The "Colour-blind-safe colours" switch shared by every map page (app/static/colours.js).
COLOURS_JS = "/static/app/colours.js"
COLOUR_SCRIPT = Element(f'<script src="{COLOURS_JS}"></script>')

# The switch between the usual colours and the colour-blind-safe ones (a real checkbox, keyboard usable).
COLOUR_CHOICE = ('<label class="colour-choice-label"><input type="checkbox" class="colour-choice"> '
                 "Colour-blind-safe colours</label>")


def swatch(cell_class: CellClass, palette: Palette = "default") -> str:
    """A legend swatch in ``palette``, with its colour in every palette for the page's switch to use."""
    # the colours are #rrggbb (checked by CellClass), safe in an attribute as they are
    colours = "".join(f' data-colour-{p}="{cell_class.colour_in(p)}"' for p in PALETTES)
    return f'<span class="swatch" style="background:{cell_class.colour_in(palette)}"{colours}></span>'


# The style function of each of a kind's class schemes, in order (the first layer is shown by default).
STYLES = ("firstStyle", "secondStyle")


class OfflineMap(folium.Map):
    """A folium Map that links only the Leaflet the service serves (no CDN)."""

    default_js = [("leaflet", LEAFLET_JS)]
    default_css = [("leaflet_css", LEAFLET_CSS)]


# Folium's page has no language and forbids zooming the page (WCAG 1.4.4: text must resize to 200 %).
FOLIUM_VIEWPORT = ('content="width=device-width,\n                initial-scale=1.0, maximum-scale=1.0, '
                   'user-scalable=no"')


def accessible_page(html: str) -> str:
    """Folium's page with a language (English) and a viewport that lets readers zoom."""
    if not html.startswith("<!DOCTYPE html>\n<html>\n") or FOLIUM_VIEWPORT not in html:
        raise RuntimeError("folium's page template changed: check the language and viewport of the map page")
    html = html.replace("<html>\n", '<html lang="en">\n', 1)
    return html.replace(FOLIUM_VIEWPORT, 'content="width=device-width, initial-scale=1.0"', 1)


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


class CellStyles(MacroElement):
    """``HOTSPOTS``: colours, style functions and an escaping tooltip shared by the cell layers, from
    the kind's two class schemes (a colour per class of each, in each palette) and its police-only
    statistics. The cells are drawn in the palette chosen on the page (``HotspotColours``, the
    "Colour-blind-safe colours" switch); ``HOTSPOTS.setPalette`` changes it (``PaletteSwitch``).

    A kind with a field holding one class per time step (``stepped_field``: emerging hot spots) is
    drawn at one step at a time, ``HOTSPOTS.setStep(i)`` choosing it (the last step at first), and
    its tooltip shows the cell's series as a small bar chart, a bar per step coloured by its class
    (as tall as its count for police; below analyst no count per step is published).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
var HOTSPOTS = (function () {
    var schemes = {{ this.schemes }};
    var fewer = {{ this.fewer }};
    var steps = {{ this.steps }}, step = steps.length - 1;
    var palette = window.HotspotColours ? window.HotspotColours.palette() : "default";
    var entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
    function esc(v) { return String(v === null || v === undefined ? "–" : v).replace(/[&<>"']/g, function (c) { return entities[c]; }); }
    function num(v, digits) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(digits); }
    // A p-value as a planner reads it: "< 0.001" rather than "0.0000".
    function pValue(v) { return (v === null || v === undefined) ? "–" : Number(v) < 0.001 ? "&lt; 0.001" : Number(v).toFixed(3); }
    // A count under the privacy threshold is null (GeoJSON) or absent (tiles), with suppressed set.
    function count(p) {
        return (p.incidents === null || p.incidents === undefined) && p.suppressed ? fewer : esc(p.incidents);
    }
    function series(v) { return (v === null || v === undefined) ? [] : String(v).split(","); }
    // A scheme's class of a cell: its field, or for a field with a class per step, the step shown.
    function value(p, scheme) { return scheme.stepped ? series(p[scheme.field])[step] : p[scheme.field]; }
    function shape(fill, opacity) {
        return {fill: true, fillColor: fill, fillOpacity: opacity, stroke: true, color: "#666666", weight: 0.4, opacity: 0.5};
    }
    function colour(scheme, shown) { return scheme.palettes[palette][shown] || "#cccccc"; }
    function style(i) {
        return function (p) { return shape(colour(schemes[i], value(p, schemes[i])), 0.8); };
    }
    function spark(p, scheme) {
        var classes = series(p[scheme.field]), counts = series(p.step_counts).map(Number);
        if (!classes.length) { return ""; }
        var most = Math.max.apply(null, counts.concat([1])), w = 7, h = 26, bars = "";
        for (var i = 0; i < classes.length; i++) {
            var tall = counts.length ? Math.max(2, Math.round(h * counts[i] / most)) : h;
            bars += "<rect x='" + (i * w) + "' y='" + (h - tall) + "' width='" + (w - 1) + "' height='" + tall
                + "' fill='" + colour(scheme, classes[i]) + "'"
                + (i === step ? " stroke='#000' stroke-width='1'" : "") + "></rect>";
        }
        return "<tr><td colspan='2'><svg class='hotspots-spark' width='" + (classes.length * w) + "' height='" + h
            + "' role='img' aria-label='Each step, oldest first" + (counts.length ? ", bars as tall as the count" : "")
            + "'>" + bars + "</svg></td></tr>";
    }
    function row(scheme, p) {
        var shown = value(p, scheme);
        if (shown === undefined && !scheme.stepped) { return ""; }  // not carried (a coarser hexagon's LISA)
        var label = scheme.labels[shown] !== undefined ? scheme.labels[shown] : shown;
        return "<tr><th>" + esc(scheme.label + (scheme.stepped ? " (" + steps[step] + ")" : "")) + "</th><td>"
            + esc(label) + "</td></tr>" + (scheme.stepped ? spark(p, scheme) : "");
    }
    return {
        {{ this.style_names[0] }}: style(0),
        {{ this.style_names[1] }}: style(1),
        steps: steps,
        step: function () { return step; },
        setStep: function (i) { step = Math.max(0, Math.min(steps.length - 1, i)); },
        palette: function () { return palette; },
        setPalette: function (name) { palette = schemes[0].palettes[name] ? name : "default"; },
        tooltip: function (p) {
            // A coarser hexagon (low zoom) stands for several cells: it says so, with their summed count
            // and the strongest class among them; zoom in for each cell's own figures.
            var heading = p.cells === undefined ? esc(p.community)
                : esc(p.cells) + " cells combined <span class='hotspots-tip-note'>(strongest class shown; zoom in for each cell)</span>";
            return "<b>" + heading + "</b><table class='hotspots-tip'>"
                + "<tr><th>Incidents</th><td>" + count(p) + "</td></tr>"
                + (p.{{ this.statistics[0][0] }} === undefined ? ""
{%- for name, digits, label in this.statistics %}
{%- if loop.first %} : {% else %}
                   + {% endif %}{% if name in this.optional %}(p.{{ name }} === null || p.{{ name }} === undefined ? "" : {% endif -%}
                   "<tr><th>{{ label }}</th><td>" + {% if name in this.p_values -%}
                   pValue(p.{{ name }}){% else %}num(p.{{ name }}, {{ digits }}){% endif %} + "</td></tr>"
                   {%- if name in this.optional %}){% endif %}
{%- endfor %})
                + row(schemes[0], p) + row(schemes[1], p) + "</table>";
        }
    };
})();
{% endmacro %}
""")

    def __init__(self, kind: AnalysisKind, min_count: int | None = None, steps: list[str] | None = None) -> None:
        super().__init__()
        self._name = "CellStyles"
        # What a suppressed count reads as (``min_count``: the privacy threshold, None for police).
        self.fewer = _script_json("–" if min_count is None else f"fewer than {int(min_count)}")
        self.style_names = STYLES
        self.statistics = kind.map_statistics
        self.p_values = kind.p_value_fields
        self.optional = kind.optional_statistics
        self.schemes = _script_json([
            {"field": s.field, "palettes": s.palettes(), "labels": s.labels(), "label": s.tooltip_label,
             "stepped": s.field == kind.stepped_field} for s in kind.schemes])
        self.steps = _script_json(list(steps or []))


class StepSlider(MacroElement):
    """A time slider for a kind drawn one step at a time: moving it shows the per-step layer at that
    step (redrawn from the features already loaded: inline cells restyled, vector tiles redrawn)."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }}, stepped = {{ this.stepped }}, other = {{ this.other }};
    var control = L.control({position: "bottomleft"});
    control.onAdd = function () {
        var div = L.DomUtil.create("div", "hotspots-box hotspots-slider");
        var last = HOTSPOTS.steps.length - 1;
        div.innerHTML = "<label for='hotspots-step'><strong>Time step</strong></label> "
            + "<output id='hotspots-step-label' for='hotspots-step'></output>"
            + "<input id='hotspots-step' type='range' min='0' max='" + last + "' value='" + last + "' step='1'>"
            + "<div class='hotspots-slider-ends'><span></span><span></span></div>";
        var input = div.querySelector("input"), output = div.querySelector("output");
        var ends = div.querySelectorAll(".hotspots-slider-ends span");
        ends[0].textContent = HOTSPOTS.steps[0]; ends[1].textContent = HOTSPOTS.steps[last];
        function show(i) {
            HOTSPOTS.setStep(i);
            output.textContent = HOTSPOTS.steps[HOTSPOTS.step()];
            input.setAttribute("aria-valuetext", output.textContent);
            div.setAttribute("data-step", String(HOTSPOTS.step()));
            if (!map.hasLayer(stepped)) { map.addLayer(stepped); if (map.hasLayer(other)) { map.removeLayer(other); } }
            if (stepped.setStyle) {
                stepped.setStyle(function (feature) { return HOTSPOTS.{{ this.style }}(feature.properties); });
            } else if (stepped.redraw) {
                stepped.redraw();
            }
        }
        input.addEventListener("input", function () { show(Number(input.value)); });
        output.textContent = HOTSPOTS.steps[last];
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    control.addTo(map);
})();
{% endmacro %}
""")

    def __init__(self, stepped: Layer, other: Layer, style: str) -> None:
        super().__init__()
        self._name = "StepSlider"
        self.stepped_layer, self.other_layer, self.style = stepped, other, style

    def render(self, **kwargs):  # the layers' names are known once they are placed on the map
        self.stepped, self.other = self.stepped_layer.get_name(), self.other_layer.get_name()
        return super().render(**kwargs)


class PaletteSwitch(MacroElement):
    """Redraws the cell layers in the palette the page's "Colour-blind-safe colours" switch chooses
    (app/static/colours.js swaps the legend's swatches): inline cells restyled, vector tiles redrawn."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
    if (!window.HotspotColours) { return; }
    var layers = [{% for name, style in this.drawn %}[{{ name }}, "{{ style }}"]{{ ", " if not loop.last }}{% endfor %}];
    window.HotspotColours.onChange(function (palette) {
        HOTSPOTS.setPalette(palette);
        layers.forEach(function (entry) {
            var layer = entry[0], style = entry[1];
            if (layer.setStyle) {
                layer.setStyle(function (feature) { return HOTSPOTS[style](feature.properties); });
            } else if (layer.redraw) {
                layer.redraw();
            }
        });
    });
})();
{% endmacro %}
""")

    def __init__(self, layers: list[tuple[Layer, str]]) -> None:
        super().__init__()
        self._name = "PaletteSwitch"
        self.layers = layers

    def render(self, **kwargs):  # the layers' names are known once they are placed on the map
        self.drawn = [(layer.get_name(), style) for layer, style in self.layers]
        return super().render(**kwargs)


class GeoJsonData(MacroElement):
    """One GeoJSON document as a JavaScript variable, for several layers to share."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = {{ this.data }};
{% endmacro %}
""")

    def __init__(self, geojson_text: str) -> None:
        super().__init__()
        self._name = "GeoJsonData"
        self.data = geojson_text.replace("</", "<\\/")


class InlineCellsLayer(Layer):
    """Hexagons from inlined GeoJSON, coloured by ``style`` ("giStyle" or "lisaStyle")."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJson({{ this.data.get_name() }}, {
    className: "hotspots-cells hotspots-{{ this.style }}",
    style: function (feature) { return HOTSPOTS.{{ this.style }}(feature.properties); },
    onEachFeature: function (feature, layer) {
        // made when shown, so it tells the time step shown now
        layer.bindTooltip(function () { return HOTSPOTS.tooltip(feature.properties); }, {sticky: true});
    }
});
{% endmacro %}
""")

    def __init__(self, data: GeoJsonData, style: str, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "InlineCellsLayer"
        self.data = data
        self.style = style


class TileCellsLayer(JSCSSMixin, Layer):
    """Hexagons from the service's vector tiles (layer ``hotspots``), for runs too large to inline."""

    default_js = [("leaflet_vectorgrid", VECTORGRID_JS)]
    _template = Template("""
{% macro script(this, kwargs) %}
// Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed.
if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = L.DomEvent.stop; }
var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.url }}, {
    vectorTileLayerStyles: {hotspots: function (properties) { return HOTSPOTS.{{ this.style }}(properties); }},
    rendererFactory: L.canvas.tile,
    interactive: true,
    fetchOptions: {credentials: "same-origin"}
});
(function (layer) {
    var tip = L.tooltip({sticky: true});
    layer.on("mouseover", function (e) {
        tip.setLatLng(e.latlng).setContent(HOTSPOTS.tooltip(e.layer.properties));
        layer._map && layer._map.openTooltip(tip);
    });
    layer.on("mouseout", function () { layer._map && layer._map.closeTooltip(tip); });
})({{ this.get_name() }});
{% endmacro %}
""")

    def __init__(self, url: str, style: str, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TileCellsLayer"
        self.url = _script_json(url)
        self.style = style


class OutlineLayer(Layer):
    """Community boundaries: outlines only, each community's name as a label at its centre, so the map
    reads without a basemap."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJson({{ this.data.get_name() }}, {
    className: "hotspots-communities",
    interactive: false,
    style: function () { return {fill: false, color: "#222222", weight: 1.6, opacity: 0.9}; },
    onEachFeature: function (feature, layer) {
        layer.bindTooltip(String(feature.properties.community), {permanent: true, direction: "center",
                                                                 className: "hotspots-label"});
    }
});
{% endmacro %}
""")

    def __init__(self, data: GeoJsonData, name: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "OutlineLayer"
        self.data = data


class PlaceLabels(Layer):
    """Towns and villages (the gazetteer shipped in app/data) as small dots with their names."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJson({{ this.places }}, {
    pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {radius: 3, color: "#222222", weight: 1, fillColor: "#ffffff",
                                       fillOpacity: 1, interactive: false, className: "hotspots-place"});
    },
    onEachFeature: function (feature, layer) {
        layer.bindTooltip(String(feature.properties.name), {permanent: true, direction: "right", offset: [4, 0],
                                                            className: "hotspots-place-label"});
    }
});
{% endmacro %}
""")

    def __init__(self, places: dict, name: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "PlaceLabels"
        self.places = _script_json(places)


class LegendFollowsLayers(MacroElement):
    """Shows only the legend sections of the cell layers on the map now (the layer control, the time
    slider and anything else may switch them), keeps one cell layer on at a time, and folds the legend
    and the layer list away on a small screen."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }}, layers = [{{ this.layer_names|join(", ") }}];
    function sync() {
        layers.forEach(function (layer, i) {
            var section = document.querySelector(".hotspots-legend [data-scheme='" + i + "']");
            if (section) { section.hidden = !map.hasLayer(layer); }
        });
        var none = document.querySelector(".hotspots-legend .hotspots-legend-none");
        if (none) { none.hidden = layers.some(function (layer) { return map.hasLayer(layer); }); }
    }
    // One cell layer at a time: two at once blend into colours no legend explains.
    // Deferred: the layer control adds every ticked layer in turn, the old one after the new.
    map.on("layeradd", function (e) {
        if (layers.indexOf(e.layer) < 0) { return; }
        setTimeout(function () {
            if (!map.hasLayer(e.layer)) { return; }
            layers.forEach(function (other) { if (other !== e.layer && map.hasLayer(other)) { map.removeLayer(other); } });
        }, 0);
    });
    // after Leaflet has finished adding or removing the layer
    map.on("layeradd layerremove", function () { setTimeout(sync, 0); });
    sync();
    // A phone: the legend folds to its title, the layer list to Leaflet's layers button (tap to open);
    // deferred, as the layer list is added after this script.
    if (window.matchMedia("(max-width: 600px)").matches) { setTimeout(fold, 0); }
    function fold() {
        var details = document.querySelector(".hotspots-legend details");
        if (details) { details.open = false; }
        var list = document.querySelector(".leaflet-control-layers");
        if (list) {
            list.classList.remove("leaflet-control-layers-expanded");
            list.addEventListener("click", function () { list.classList.add("leaflet-control-layers-expanded"); });
        }
    }
})();
{% endmacro %}
""")

    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self._name = "LegendFollowsLayers"
        self.layers = layers

    def render(self, **kwargs):  # the layers' names are known once they are placed on the map
        self.layer_names = [layer.get_name() for layer in self.layers]
        return super().render(**kwargs)


class LabelDeclutter(MacroElement):
    """Hides any name that would overlap one already shown or be cut by the map's edge, after every zoom
    or pan: towns first (a planner looks for Basseterre), then communities. A hidden name comes back when
    zooming in frees room."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    var order = [".hotspots-place-label", ".hotspots-label"];
    function overlaps(a, b) { return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; }
    function declutter() {
        var kept = [], frame = map.getContainer().getBoundingClientRect();
        order.forEach(function (selector) {
            map.getContainer().querySelectorAll(".leaflet-tooltip" + selector).forEach(function (label) {
                label.style.visibility = "";
                var box = label.getBoundingClientRect();
                var cut = box.left < frame.left || box.right > frame.right || box.top < frame.top || box.bottom > frame.bottom;
                if (cut || kept.some(function (other) { return overlaps(box, other); })) {
                    label.style.visibility = "hidden";
                } else {
                    kept.push(box);
                }
            });
        });
    }
    map.on("zoomend moveend overlayadd overlayremove", function () { setTimeout(declutter, 0); });
    setTimeout(declutter, 0);
})();
{% endmacro %}
""")

    def __init__(self) -> None:
        super().__init__()
        self._name = "LabelDeclutter"


class HtmlControl(MacroElement):
    """A fixed box on the map (legend, title) from server-made HTML."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
    var control = L.control({position: {{ this.position }}});
    control.onAdd = function () {
        var div = L.DomUtil.create("div", {{ this.css_class }});
        div.innerHTML = {{ this.html }};
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    control.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
""")

    def __init__(self, html: str, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html = _script_json(html)
        self.position = _script_json(position)
        self.css_class = _script_json(css_class)


MAP_CSS = Element("""<link rel="icon" href="data:,">
<style>
.leaflet-container { background: #dfe6ea; font-family: system-ui, sans-serif; }
.hotspots-box { background: rgba(255,255,255,0.94); padding: 8px 10px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font-size: 12px; line-height: 1.35; max-width: 260px; }
.hotspots-box h3 { margin: 0 0 4px; font-size: 13px; }
.hotspots-box h4 { margin: 8px 0 3px; font-size: 12px; }
.hotspots-legend .row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.hotspots-legend .swatch { width: 16px; height: 12px; border: 1px solid #777; flex: none; }
.hotspots-legend .colour-choice-label { display: flex; align-items: center; gap: 6px; margin: 2px 0 4px; cursor: pointer; }
.hotspots-legend .colour-choice-label input { margin: 0; width: 16px; height: 16px; }
.hotspots-backtest { max-width: 340px; } .hotspots-backtest p { margin: 0 0 4px; }
.hotspots-tip th { text-align: left; padding-right: 8px; font-weight: 600; }
.hotspots-box a { color: #0b57d0; }
.hotspots-slider { min-width: 220px; }
.hotspots-slider input { width: 100%; margin: 4px 0 0; }
.hotspots-slider output { font-weight: 600; margin-left: 4px; }
.hotspots-slider-ends { display: flex; justify-content: space-between; color: #444; font-size: 11px; }
.hotspots-tip-note { font-weight: normal; color: #555; }
.hotspots-spark { display: block; margin-top: 3px; background: #eeeeee; }
.hotspots-synthetic { background: #fff4ce; border: 1px solid #e8c95a; padding: 2px 6px; margin: 4px 0; }
.hotspots-legend summary { cursor: pointer; font-weight: 600; font-size: 13px; }
.hotspots-legend details[open] summary { margin-bottom: 4px; }
.hotspots-links { margin-top: 4px; }
.leaflet-tooltip.hotspots-label { background: transparent; border: none; box-shadow: none; padding: 0;
  font-weight: 600; font-size: 11px; color: #1d2329; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
.leaflet-tooltip.hotspots-label::before, .leaflet-tooltip.hotspots-place-label::before { display: none; }
.leaflet-tooltip.hotspots-place-label { background: transparent; border: none; box-shadow: none; padding: 0;
  font-size: 11px; font-style: italic; color: #1d2329; text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
/* A phone: small boxes, the legend folded (its summary stays), the title box scrolls. */
@media (max-width: 600px) {
  .hotspots-box { max-width: 62vw; font-size: 11px; padding: 5px 7px; }
  .hotspots-title { max-height: 30vh; overflow: auto; }
  .hotspots-legend { max-height: 40vh; overflow: auto; }
  .leaflet-control-layers { font-size: 11px; }
}
@media print {
  .leaflet-control-zoom, .leaflet-control-layers, .hotspots-links { display: none !important; }
}
</style>""")
