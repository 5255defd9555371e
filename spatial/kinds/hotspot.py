"""The Gi* + local Moran kind: hot and cold spots (Esri's Gi_Bin) and LISA clusters per H3 cell.

The statistics are in spatial/stats.py, spatial/hotspots.py and spatial/significance.py;
this module declares what the kind stores, publishes, draws, exports and ranks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from spatial.kinds.base import AnalysisKind, CellClass, CellCondition, CellField, ClassScheme, Ranking

# Esri's Hot Spot Analysis renderer (Gi_Bin), the colours planners know from ArcGIS; and the
# colour-blind-safe colours: a diverging orange-to-blue scheme (the axis red-green colour blindness
# keeps) with a neutral grey between, each step lighter or darker than the next so the confidence
# levels also differ in lightness (which blue-yellow colour blindness keeps). Chosen so that every two
# classes stay apart under simulated protanopia, deuteranopia and tritanopia
# (tests/spatial/test_colour_vision.py); Esri's own pale orange, yellow and grey-green do not.
GI_CLASSES = (
    CellClass(3, "Hot spot 99 % confidence", "#d62f27", "#7f2704"),
    CellClass(2, "Hot spot 95 % confidence", "#ed7551", "#d5640c"),
    CellClass(1, "Hot spot 90 % confidence", "#fab984", "#fdc48a"),
    CellClass(0, "Not significant", "#ffffbf", "#f7f7f7"),
    CellClass(-1, "Cold spot 90 % confidence", "#c0ccbe", "#a3bdf2"),
    CellClass(-2, "Cold spot 95 % confidence", "#849eba", "#4a6bd1"),
    CellClass(-3, "Cold spot 99 % confidence", "#4575b5", "#1b2a6b"),
)
# GeoDa's LISA cluster map colours; safe: clusters dark and outliers light, orange for high and blue
# for low, greys for the rest (checked the same way).
LISA_CLASSES = tuple(CellClass(label, label, colour, safe) for label, colour, safe in (
    ("High-High", "#ff0000", "#a8330a"),
    ("Low-Low", "#0000ff", "#1f3a93"),
    ("High-Low", "#f4ada8", "#f5b041"),
    ("Low-High", "#a7adf9", "#6fa8f0"),
    ("Not significant", "#eeeeee", "#f7f7f7"),
    ("No neighbours", "#999999", "#8b8b8b"),
))

# What a class means, in one sentence (every map says what its p-values are).
P_VALUE_NOTE = ("Confidence comes from comparing each cell's neighbourhood with every other arrangement of the "
                "same counts (ties count against significance), corrected for testing many cells at once (FDR): "
                "on random data, a map shows any 95 % hot spot at most about 1 time in 20.")

CLASS_FIELD = "gi_bin"


def strongest_gi_bin(classes: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Per parent (``index`` of each cell's parent): the strongest Gi_Bin class among its cells, largest
    |class| first, hot winning a tie. ``classes`` is one class per cell, or one per cell and time step
    (cells, steps), which gives the strongest class of each step."""
    classes = np.asarray(classes, dtype=np.int64)
    strength = np.abs(classes) * 2 + (classes > 0)  # |bin| first; on a tie hot (+) beats cold (-)
    best = np.full((n, *classes.shape[1:]), -1, dtype=np.int64)
    np.maximum.at(best, index, strength)
    return np.where(best % 2 == 1, best // 2, -(best // 2))


def strongest_class(values: Mapping[str, np.ndarray], index: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per parent: the strongest Gi_Bin class among its cells (largest |class|; hot wins a tie),
    and how many of its cells are hot and cold."""
    classes = np.asarray(values[CLASS_FIELD], dtype=np.int64)
    return {
        CLASS_FIELD: strongest_gi_bin(classes, index, n),
        "hot_cells": np.bincount(index, weights=classes > 0, minlength=n),
        "cold_cells": np.bincount(index, weights=classes < 0, minlength=n),
    }


HOTSPOT = AnalysisKind(
    name="hotspot",
    title="Gi* hot and cold spots",
    cell_table="hotspot_cells",
    published_cell_table="published_cells",
    parent_table="hotspot_cell_parents",
    published_parent_table="published_cell_parents",
    fields=(
        CellField("gi_z", "float"), CellField("gi_p", "float"), CellField("gi_p_sim", "float"),
        CellField("gi_p_fdr", "float"), CellField(CLASS_FIELD, "smallint", published=True),
        CellField("lisa_i", "float"), CellField("lisa_quadrant", "smallint", published=True),
        CellField("lisa_p_sim", "float"), CellField("lisa_p_fdr", "float"),
        CellField("lisa_label", "text", published=True),
        # Rate runs (value 'rate'): residents placed in the cell and its smoothed rate per 1,000, the
        # value analysed; empty for runs of counts. Police only: with the rate they give the count.
        CellField("residents", "float"), CellField("smoothed_rate", "float"),
    ),
    class_field=CLASS_FIELD,
    schemes=(
        ClassScheme(CLASS_FIELD, "Hot and cold spots (Gi*)", "Hot and cold spots (Gi*, Gi_Bin)", "Class",
                    GI_CLASSES),
        ClassScheme("lisa_label", "Clusters and outliers (LISA)", "Clusters and outliers (LISA)", "LISA",
                    LISA_CLASSES),
    ),
    legend_note=P_VALUE_NOTE,
    csv_columns=("cell", "community", "incidents", "gi_z", "gi_p", "gi_p_sim", "gi_p_fdr", CLASS_FIELD,
                 "lisa_i", "lisa_quadrant", "lisa_p_sim", "lisa_p_fdr", "lisa_label", "residents", "smoothed_rate",
                 "centre_lat", "centre_lon"),
    # Below analyst: classes and protected counts only (no statistic a hidden count could be solved from).
    published_csv_columns=("cell", "community", "incidents", "suppressed", CLASS_FIELD, "lisa_quadrant",
                           "lisa_label", "centre_lat", "centre_lon"),
    tile_fields=(CLASS_FIELD, "gi_z", "gi_p_fdr", "lisa_label"),
    tile_descriptions={
        CLASS_FIELD: "Gi* confidence class: ±3 99 %, ±2 95 %, ±1 90 %, 0 not significant "
                     "(aggregated: the strongest class among its cells)",
        "gi_z": "Gi* z-score (run-resolution cells only)",
        "gi_p_fdr": "Gi* p-value after false-discovery-rate correction (run-resolution cells only)",
        "lisa_label": "Local Moran's I cluster label (run-resolution cells only)",
        "hot_cells": "Cells with Gi_Bin > 0 (aggregated features only)",
        "cold_cells": "Cells with Gi_Bin < 0 (aggregated features only)",
    },
    map_statistics=(("gi_z", 2, "Gi* z"), ("gi_p_fdr", 4, "p (FDR)"),
                    ("smoothed_rate", 2, "Smoothed rate per 1,000 residents")),
    optional_statistics=("smoothed_rate",),
    p_value_fields=("gi_p_fdr",),
    parent_fields=((CLASS_FIELD, "smallint"), ("hot_cells", "integer"), ("cold_cells", "integer")),
    aggregate_parents=strongest_class,
    ranking=Ranking(
        counts=(("hot_99", CellCondition(CLASS_FIELD, "=", 3)), ("hot_95", CellCondition(CLASS_FIELD, "=", 2)),
                ("hot_90", CellCondition(CLASS_FIELD, "=", 1)), ("cold", CellCondition(CLASS_FIELD, "<", 0))),
        hot=CellCondition(CLASS_FIELD, ">=", 2),  # 95 % confidence or more
        candidate=CellCondition(CLASS_FIELD, ">", 0),
        strength="gi_z",
        shown=(("hot_cells", (("99%", "hot_99"), ("95%", "hot_95"), ("90%", "hot_90"))), ("cold_cells", "cold")),
    ),
)
