"""The emerging hot spot kind: each cell's pattern over time (new, intensifying, persistent, …).

The statistics are in ``spatial/emerging/`` (space-time cube, space-time Gi*,
Mann-Kendall, ArcGIS's categories); this module declares what a run of this
kind stores, publishes, draws, exports and ranks, and turns a result into the
per-cell columns it stores.

A cell's series (its Gi_Bin class in each time step, and for police its count
in each step) is stored as text beside its category, so one vector tile holds
everything the map's time slider and sparkline draw: moving the slider
recolours the cells already loaded, with no new request (the maps run on
police networks that are often offline or slow).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from spatial.emerging import EmergingResult
from spatial.emerging.categories import (
    CONSECUTIVE,
    DIMINISHING,
    HISTORICAL,
    INTENSIFYING,
    NEW,
    NO_PATTERN,
    OSCILLATING,
    PERSISTENT,
    SPORADIC,
    category_label,
)
from spatial.kinds.base import AnalysisKind, CellClass, CellCondition, CellField, ClassScheme, Ranking
from spatial.kinds.hotspot import GI_CLASSES, strongest_gi_bin

CLASS_FIELD = "category"

# Hot patterns in the order a planner acts on them (most urgent first): the order of the legend,
# and the one a coarser hexagon keeps when its cells differ. Cold patterns mirror them.
URGENCY = (INTENSIFYING, PERSISTENT, NEW, CONSECUTIVE, SPORADIC, OSCILLATING, DIMINISHING, HISTORICAL)
# Reds for hot and blues for cold, darker for the more urgent patterns (the colour families
# of ArcGIS Pro's Emerging Hot Spot renderer; patterns are told apart by shade and by name).
_HOT = ("#99000d", "#cb181d", "#ef3b2c", "#fb6a4a", "#fc9272", "#fdae6b", "#fcbba1", "#d9b8b0")
_COLD = ("#08306b", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#a6bddb", "#c6dbef", "#b8c4d6")
NO_PATTERN_COLOUR = "#f2f2f2"

PATTERN_CLASSES = (
    *(CellClass(code, category_label(code), colour) for code, colour in zip(URGENCY, _HOT)),
    CellClass(NO_PATTERN, category_label(NO_PATTERN), NO_PATTERN_COLOUR),
    *(CellClass(-code, category_label(-code), colour) for code, colour in zip(URGENCY, _COLD)),
)

NOTE = ("Each cell's pattern comes from its Gi* hot and cold spots in every time step (the same exact test as "
        "one-period maps, corrected for testing every cell in every step at once) and the Mann-Kendall trend of "
        "its Gi* z-scores. New: hot only in the last step; consecutive: hot in an unbroken run of recent steps; "
        "intensifying or diminishing: hot in 90 % of steps and getting stronger or weaker; persistent: hot in 90 % "
        "of steps with no trend; sporadic: on and off; oscillating: hot now but cold before; historical: hot in "
        "most steps but not lately. Move the time slider to see each step's hot and cold spots.")


# Per |code|: 8 for the most urgent pattern .. 1 for the least, 0 for no pattern.
_URGENCY_RANK = np.zeros(len(URGENCY) + 1, dtype=np.int64)
_URGENCY_RANK[list(URGENCY)] = np.arange(len(URGENCY), 0, -1)


def _rank(codes: np.ndarray) -> np.ndarray:
    """Larger for the pattern a coarser hexagon keeps: any hot before any cold, the more urgent first."""
    magnitude = _URGENCY_RANK[np.abs(codes)]
    return np.where(codes > 0, 10 + magnitude, np.where(codes < 0, magnitude, 0))


def series_text(values: np.ndarray) -> np.ndarray:
    """Each row of a (cells, steps) integer array as "v1,v2,…" (oldest step first)."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return np.array([""] * len(values), dtype=object)
    low = int(values.min())
    words = np.array([str(v) for v in range(low, int(values.max()) + 1)], dtype=object)
    return np.array([",".join(row) for row in words[values - low].tolist()], dtype=object)


def series_values(texts: np.ndarray) -> np.ndarray:
    """The (cells, steps) integer array of ``series_text``'s strings (one C-level parse of them all)."""
    rows = [str(t) for t in texts]
    if not rows:
        return np.zeros((0, 0), dtype=np.int64)
    values = np.fromstring(",".join(rows), sep=",", dtype=np.int64)  # text mode: not the deprecated binary one
    return values.reshape(len(rows), -1)


def strongest_pattern(values: Mapping[str, np.ndarray], index: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per parent: the most urgent pattern among its cells, how many of its cells are hot and cold,
    and in each step the strongest Gi_Bin class among them (as the Gi* kind's parents keep)."""
    codes = np.asarray(values[CLASS_FIELD], dtype=np.int64)
    rank = _rank(codes)
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, index, rank * 100 + codes + 50)  # the rank decides; the code is read back from it
    return {
        CLASS_FIELD: best % 100 - 50,
        "hot_cells": np.bincount(index, weights=codes > 0, minlength=n),
        "cold_cells": np.bincount(index, weights=codes < 0, minlength=n),
        "step_classes": series_text(strongest_gi_bin(series_values(values["step_classes"]), index, n)),
    }


@dataclass(frozen=True)
class EmergingCells:
    """One row per cell of an emerging run, the columns the kind stores (``kind.fields`` by name)."""

    cells: np.ndarray
    community: np.ndarray
    incidents: np.ndarray
    category: np.ndarray
    pattern: np.ndarray
    trend_tau: np.ndarray
    trend_p: np.ndarray
    hot_steps: np.ndarray
    cold_steps: np.ndarray
    last_gi_z: np.ndarray
    step_classes: np.ndarray
    step_counts: np.ndarray

    def __len__(self) -> int:
        return len(self.cells)

    @classmethod
    def of(cls, result: EmergingResult, community: np.ndarray) -> EmergingCells:
        """The stored columns of ``result`` (cells in the cube's order; ``community`` of each cell)."""
        gi = result.gi
        return cls(
            cells=result.cells, community=np.asarray(community, dtype=np.int64),
            incidents=result.counts.sum(axis=1), category=result.category, pattern=result.labels(),
            trend_tau=result.trend.tau, trend_p=result.trend.p,
            hot_steps=(gi.gi_bin >= 2).sum(axis=1), cold_steps=(gi.gi_bin <= -2).sum(axis=1),
            last_gi_z=gi.z[:, -1], step_classes=series_text(gi.gi_bin), step_counts=series_text(result.counts),
        )


EMERGING = AnalysisKind(
    name="emerging",
    title="Emerging hot and cold spots",
    cell_table="emerging_cells",
    published_cell_table="published_emerging_cells",
    parent_table="emerging_cell_parents",
    published_parent_table="published_emerging_cell_parents",
    fields=(
        CellField(CLASS_FIELD, "smallint", published=True), CellField("pattern", "text", published=True),
        CellField("trend_tau", "float"), CellField("trend_p", "float"),
        CellField("hot_steps", "integer"), CellField("cold_steps", "integer"), CellField("last_gi_z", "float"),
        # Classes per step are published; counts per step never below analyst (beside the period's
        # total, the steps shown would solve a hidden one).
        CellField("step_classes", "text", published=True), CellField("step_counts", "text"),
    ),
    class_field=CLASS_FIELD,
    schemes=(
        ClassScheme(CLASS_FIELD, "Emerging hot spots", "Emerging hot and cold spots", "Pattern", PATTERN_CLASSES),
        ClassScheme("step_classes", "Hot and cold spots in the step shown", "Hot and cold spots (Gi*) in the step shown",
                    "This step", GI_CLASSES),
    ),
    legend_note=NOTE,
    csv_columns=("cell", "community", "incidents", CLASS_FIELD, "pattern", "trend_tau", "trend_p", "hot_steps",
                 "cold_steps", "last_gi_z", "step_classes", "step_counts", "centre_lat", "centre_lon"),
    published_csv_columns=("cell", "community", "incidents", "suppressed", CLASS_FIELD, "pattern", "step_classes",
                           "centre_lat", "centre_lon"),
    tile_fields=(CLASS_FIELD, "pattern", "step_classes", "step_counts", "trend_tau", "trend_p"),
    tile_descriptions={
        CLASS_FIELD: "Emerging hot spot pattern: +1..+8 hot (new, consecutive, intensifying, persistent, diminishing, "
                     "oscillating, historical, sporadic), the same negative for cold, 0 no pattern (aggregated: the "
                     "most urgent pattern among its cells)",
        "pattern": "The pattern in words (run-resolution cells only)",
        "step_classes": "Gi_Bin class in each time step, oldest first, comma-separated (aggregated: the strongest "
                        "class among its cells in each step)",
        "step_counts": "Incidents in each time step, oldest first (police; run-resolution cells only)",
        "trend_tau": "Mann-Kendall tau of the cell's Gi* z-scores over time (run-resolution cells only)",
        "trend_p": "Mann-Kendall p-value of that trend (run-resolution cells only)",
        "hot_cells": "Cells with a hot pattern (aggregated features only)",
        "cold_cells": "Cells with a cold pattern (aggregated features only)",
    },
    map_statistics=(("trend_tau", 2, "Trend (Kendall's tau)"), ("trend_p", 3, "Trend p")),
    p_value_fields=("trend_p",),
    parent_fields=((CLASS_FIELD, "smallint"), ("hot_cells", "integer"), ("cold_cells", "integer"),
                   ("step_classes", "text")),
    parent_inputs=("step_classes",),
    stepped_field="step_classes",
    heading="Emerging hot spots, run",
    aggregate_parents=strongest_pattern,
    ranking=Ranking(
        counts=(("hot_patterns", CellCondition(CLASS_FIELD, ">", 0)),
                ("cold_patterns", CellCondition(CLASS_FIELD, "<", 0))),
        hot=CellCondition(CLASS_FIELD, ">", 0),
        candidate=CellCondition(CLASS_FIELD, ">", 0),
        strength="last_gi_z",
        shown=(("hot_cells", "hot_patterns"), ("cold_cells", "cold_patterns")),
    ),
)

__all__ = ["CLASS_FIELD", "EMERGING", "EmergingCells", "PATTERN_CLASSES", "URGENCY", "series_text", "series_values",
           "strongest_pattern", "CONSECUTIVE", "DIMINISHING", "HISTORICAL", "NEW", "OSCILLATING", "PERSISTENT",
           "SPORADIC"]
