"""A printable map of one community's hot-spot cells as inline SVG: hexagons coloured by their class, the
community's outline on top, a scale bar. Drawn on the server, so it needs no tiles, no script and no
network, and prints the same on every printer.

Pure drawing: the caller passes the cells it may show (H3 ids and their published class) and the outline.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h3

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class MapClass:
    """One class of the legend: its stored value, what it means and its colour."""

    value: Any
    label: str
    colour: str


def _rings(geometry: Mapping[str, Any] | None) -> list[list[tuple[float, float]]]:
    """Every ring (lon, lat) of a GeoJSON Polygon or MultiPolygon."""
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry.get("type") == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        return []
    return [[(float(x), float(y)) for x, y, *_ in ring] for polygon in polygons for ring in polygon]


def _nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10^n metres not above ``metres`` (a scale bar's length)."""
    power = 10 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def cells_map_svg(cells: Iterable[tuple[str, Any]], outline: Mapping[str, Any] | None, classes: Sequence[MapClass],
                  *, width: int = 640, height: int = 420, title: str = "Hot and cold spots") -> str:
    """The map as an ``<svg>`` element (and a legend of the classes drawn).

    ``cells``: (H3 id, class value) pairs; a class of None is drawn grey ("class not shown"). The
    projection is equirectangular around the map's middle latitude: at the scale of one community the
    distortion is far below what a printed page shows.
    """
    hexagons = [(value, [(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]) for cell, value in cells]
    rings = _rings(outline)
    points = [p for _, ring in hexagons for p in ring] + [p for ring in rings for p in ring]
    if not points:
        return '<p class="muted">No cells to draw.</p>'
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    shrink = math.cos(math.radians((south + north) / 2))  # a degree of longitude is shorter away from the equator
    span_x, span_y = max((east - west) * shrink, 1e-9), max(north - south, 1e-9)
    margin, foot = 10, 30
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin - foot) / span_y)

    def xy(lon: float, lat: float) -> str:
        return f"{margin + (lon - west) * shrink * scale:.1f},{margin + (north - lat) * scale:.1f}"

    colour = {c.value: c.colour for c in classes}
    parts = [f'<svg class="brief-map" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="{html.escape(title)}">']
    used: set[Any] = set()
    for value, ring in hexagons:
        used.add(value)
        fill = colour.get(value, "#bdbdbd")
        parts.append(f'<polygon class="cell" data-class="{html.escape(str(value))}" fill="{fill}" stroke="#ffffff" '
                     f'stroke-width="0.5" points="{" ".join(xy(*p) for p in ring)}"/>')
    for ring in rings:
        parts.append(f'<polygon class="outline" fill="none" stroke="#24323f" stroke-width="1.5" '
                     f'points="{" ".join(xy(*p) for p in ring)}"/>')
    metres_per_px = math.radians(1) * EARTH_RADIUS_M / scale
    bar_m = _nice_length(metres_per_px * (width / 4))
    bar_px = bar_m / metres_per_px
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    y = height - 12
    parts.append(f'<line x1="{margin}" x2="{margin + bar_px:.1f}" y1="{y}" y2="{y}" stroke="#24323f" stroke-width="3"/>'
                 f'<text x="{margin + bar_px + 6:.1f}" y="{y + 4}" font-size="11">{label}</text>'
                 f'<text x="{width - margin}" y="{y + 4}" font-size="11" text-anchor="end">N ↑</text></svg>')
    legend = [f'<li><span class="swatch" style="background:{c.colour}"></span>{html.escape(c.label)}</li>'
              for c in classes if c.value in used]
    if None in used:
        legend.append('<li><span class="swatch" style="background:#bdbdbd"></span>Class not shown</li>')
    return "".join(parts) + f'<ul class="legend">{"".join(legend)}</ul>'
