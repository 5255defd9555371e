"""Two hot-spot maps of the same place compared cell by cell: where hot spots appeared, stayed or went.

A cell is *hot* when its Gi_Bin is 2 or 3 (a hot spot at 95 % confidence or more, Esri's convention).
Only the H3 cells both runs analysed are compared, and only at the same H3 resolution: a resolution 8
cell is not "the same place" as a resolution 9 cell, so ``compare_hot_cells`` refuses rather than guess.
Pure: plain mappings in, plain values out; no web framework and no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h3

# Gi_Bin 2 (95 %) and 3 (99 %): what the service calls a hot spot everywhere (ranking, back-tests).
HOT_FROM = 2

BECAME_HOT = "became_hot"
STAYED_HOT = "stayed_hot"
STOPPED_HOT = "stopped_hot"
# Colours of the change map: reds for hot now (dark: for a while), blue for a hot spot that went.
CHANGE_COLOURS = {BECAME_HOT: "#e34a33", STAYED_HOT: "#7f0000", STOPPED_HOT: "#3182bd"}
# In the order a planner reads them, with the words the pages and the API use.
CHANGE_LABELS = {
    BECAME_HOT: "Became hot",
    STAYED_HOT: "Stayed hot",
    STOPPED_HOT: "No longer hot",
}


class ResolutionMismatch(ValueError):
    """The two maps use H3 cells of different sizes, so their cells cannot be matched one to one."""


@dataclass(frozen=True)
class HotCellChanges:
    """How each cell analysed in both maps changed between the first and the second.

    ``changes`` maps a cell to one of ``CHANGE_LABELS`` (cells hot in neither map are left out);
    ``counts`` has every change class, zeros included; ``compared`` is how many cells both maps analysed;
    ``only_first`` / ``only_second`` how many cells only one of them analysed (not compared).
    """

    changes: dict[str, str]
    counts: dict[str, int]
    compared: int
    only_first: int
    only_second: int
    notes: list[str] = field(default_factory=list)


def is_hot(gi_bin: int | None) -> bool:
    """Whether a Gi_Bin class is a hot spot at 95 % confidence or more (a missing class is not)."""
    return gi_bin is not None and gi_bin >= HOT_FROM


def strongest_per_cell(rows: Iterable[tuple[str, int | None]]) -> dict[str, int | None]:
    """One class per cell from (cell, Gi_Bin) rows: a cell on a community border is listed once per
    community, and keeps its strongest (highest) class."""
    classes: dict[str, int | None] = {}
    for cell, gi_bin in rows:
        known = classes.get(cell)
        if cell not in classes or (gi_bin is not None and (known is None or gi_bin > known)):
            classes[cell] = gi_bin
    return classes


def check_same_resolution(first_resolution: int, second_resolution: int) -> None:
    """Raises ``ResolutionMismatch`` when two maps' cells differ in size (they cannot be matched)."""
    if first_resolution != second_resolution:
        raise ResolutionMismatch(
            f"The two runs use different cell sizes (H3 resolution {first_resolution} and {second_resolution}), "
            "so their cells cannot be matched. Compare two runs made at the same resolution.")


def compare_hot_cells(first: Mapping[str, int | None], second: Mapping[str, int | None], *,
                      first_resolution: int, second_resolution: int) -> HotCellChanges:
    """Classify every cell both maps analysed: became hot, stayed hot, or no longer hot.

    ``first`` and ``second`` map H3 cells to their Gi_Bin class (None: no class). Raises
    ``ResolutionMismatch`` when the resolutions differ.
    """
    check_same_resolution(first_resolution, second_resolution)
    both = first.keys() & second.keys()
    changes: dict[str, str] = {}
    for cell in both:
        before, after = is_hot(first[cell]), is_hot(second[cell])
        if before and after:
            changes[cell] = STAYED_HOT
        elif after:
            changes[cell] = BECAME_HOT
        elif before:
            changes[cell] = STOPPED_HOT
    counts = {name: 0 for name in CHANGE_LABELS}
    for change in changes.values():
        counts[change] += 1
    notes = []
    if not both:
        notes.append("The two runs share no cells: they analysed different places, so nothing can be compared.")
    elif not changes:
        notes.append("Neither run has a hot spot (95 % confidence or more) in the cells they share: "
                     "there is no change in hot spots to show.")
    return HotCellChanges(changes=dict(sorted(changes.items())), counts=counts, compared=len(both),
                          only_first=len(first.keys() - both), only_second=len(second.keys() - both), notes=notes)


def hexagons_feature_collection(values: Mapping[str, Any], field_name: str,
                                keep: Callable[[Any], bool] = lambda value: True) -> dict[str, Any]:
    """H3 cells as a GeoJSON FeatureCollection of hexagons (EPSG:4326), each with ``{field_name: value}``
    and its cell id; ``keep`` chooses which values are drawn (e.g. only significant classes)."""
    features = []
    for cell, value in values.items():
        if not keep(value):
            continue
        ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
        features.append({"type": "Feature", "id": cell, "properties": {"cell": cell, field_name: value},
                         "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    return {"type": "FeatureCollection", "features": features}
