"""Communities grouped by the land they lie on, and H3 cell sizes in words.

Used by the "New analysis" form: a planner picks parishes island by island
(St Kitts, Nevis), and chooses a resolution by how large a cell is on the
ground. Pure shapely and h3; no web framework, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import h3
import shapely
from shapely.geometry.base import BaseGeometry

# Neighbouring communities rarely share their edges exactly (gaps and slivers of a few metres in
# boundary files): each is grown by this much (degrees, ~100 m) before the land masses are found,
# so a gap inside an island never splits it, while the 3 km strait between St Kitts and Nevis does.
JOIN_GAP_DEG = 0.001


def group_by_island(community_ids: Sequence[int], shapes: Sequence[BaseGeometry]) -> list[list[int]]:
    """The communities in groups, one per land mass (an island), the group with the largest area first.

    A community on several land masses (a parish with an offshore islet) belongs to the one
    holding most of its area. Within a group the order of ``community_ids`` is kept.
    """
    if not community_ids:
        return []
    grown = shapely.buffer(shapely.make_valid(list(shapes)), JOIN_GAP_DEG)
    land = shapely.get_parts(shapely.union_all(grown))
    areas = shapely.area(land)
    groups: dict[int, list[int]] = {}
    for community_id, shape in zip(community_ids, grown):
        shared = shapely.area(shapely.intersection(land, shape))
        groups.setdefault(int(shared.argmax()), []).append(community_id)
    return [groups[part] for part in sorted(groups, key=lambda part: -areas[part])]


def cell_size_words(resolution: int) -> str:
    """How large an H3 cell of ``resolution`` is on the ground, in a planner's words:
    ``"res 9 ≈ 0.11 km², about 350 m across"`` (the average cell; across is flat side to flat side)."""
    area_km2 = h3.average_hexagon_area(resolution, "km^2")
    across_m = math.sqrt(2 * area_km2 * 1e6 / math.sqrt(3))  # a regular hexagon of that area
    across = f"{across_m / 1000:.1f} km" if across_m >= 1000 else f"{_round_metres(across_m)} m"
    area = f"{area_km2:.1f}" if area_km2 >= 1 else f"{area_km2:.2g}"
    return f"res {resolution} ≈ {area} km², about {across} across"


def _round_metres(metres: float) -> int:
    step = 10 if metres >= 100 else 5
    return int(round(metres / step) * step)
