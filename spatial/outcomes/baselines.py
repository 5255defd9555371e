"""Naive maps to set beside a hot-spot map: would "where it happened last time" have done as well?

- :func:`top_area` picks the cells with the highest score until a given number of cells is
  covered. Cells tied at the edge share what is left equally (fractional weights), so the map
  is scored as the average over every way of breaking the tie, not by an arbitrary order.
  Applied to last period's counts it is the "previous period's top cells" baseline.
- :func:`kernel_surface` smooths counts over the cell centres with a Gaussian kernel (the
  surface crime analysts draw with kernel density estimation), so cells next to last period's
  incidents score too; its :func:`top_area` is the "kernel density" baseline.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

# The kernel is cut where it falls below exp(-4.5) ≈ 1 % of its peak.
KERNEL_REACH = 3.0


def top_area(scores, cells: float) -> np.ndarray:
    """Weights (0 to 1) selecting ``cells`` cells with the highest scores; ties at the edge share.

    ``cells`` may be fractional (a share of the area times the number of cells); it is capped at
    the number of cells. For "the top x % of area" pass ``floor(x / 100 * len(scores))`` to count
    whole cells as open_cp's ``evaluation.top_slice`` does.
    """
    values = np.asarray(scores, dtype=float).ravel()
    wanted = float(min(max(cells, 0.0), len(values)))
    weights = np.zeros(len(values))
    if wanted <= 0 or len(values) == 0:
        return weights
    ranked = np.sort(values)[::-1]
    edge = ranked[math.ceil(wanted) - 1]  # the score of the last cell needed
    above = values > edge
    tied = values == edge
    weights[above] = 1.0
    weights[tied] = (wanted - above.sum()) / tied.sum()
    return weights


def kernel_surface(x, y, counts, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``counts`` evaluated at every cell centre.

    ``x``, ``y`` are cell centres in a metric projection (metres) and ``bandwidth`` is the
    kernel's standard deviation in the same unit. Each cell's value is
    ``sum_j counts_j * exp(-d_ij^2 / (2 h^2))`` over cells within ``3 h`` (unnormalised: only the
    ranking matters for a baseline map).
    """
    if bandwidth <= 0:
        raise ValueError("The kernel bandwidth must be positive.")
    points = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    weights = np.asarray(counts, dtype=float).ravel()
    surface = np.zeros(len(points))
    sources = np.flatnonzero(weights > 0)
    if len(sources) == 0:
        return surface
    tree = cKDTree(points)
    near = tree.query_ball_point(points[sources], r=KERNEL_REACH * bandwidth)
    for source, neighbours in zip(sources, near, strict=True):
        index = np.asarray(neighbours, dtype=np.int64)
        squared = ((points[index] - points[source]) ** 2).sum(axis=1)
        surface[index] += weights[source] * np.exp(-squared / (2 * bandwidth**2))
    return surface


def local_metres(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude in degrees to metres on a plane tangent at their mean latitude.

    Good to well under 1 % across a city, which is all a kernel bandwidth needs.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    radius = 6_371_008.8
    middle = math.radians(float(lat.mean())) if len(lat) else 0.0
    return (np.radians(lon) * radius * math.cos(middle), np.radians(lat) * radius)
