"""Which community each incident falls in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely


class CommunityLocator:
    """Point-in-polygon lookup over one boundary set.

    A point on a shared border, or in an overlap, goes to the community listed
    first (the store lists them in id order), the same rule the database uses
    when a boundary set is activated.
    """

    def __init__(self, community_ids: Sequence[int], polygons_wkb: Sequence[bytes]) -> None:
        self.ids = np.asarray(community_ids, dtype=np.int64)
        self.polygons = shapely.from_wkb(list(polygons_wkb)) if len(polygons_wkb) else np.array([])
        self.tree = shapely.STRtree(self.polygons) if len(self.polygons) else None

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray | None:
        """Community id per point, or ``None`` for the whole batch when no boundaries are loaded.

        Points outside every community get ``-1``.
        """
        if self.tree is None:
            return None
        points = shapely.points(lon, lat)
        point_index, polygon_index = self.tree.query(points, predicate="intersects")
        result = np.full(len(points), -1, dtype=np.int64)
        # Visit matches from the last-listed polygon to the first so the first listed wins.
        order = np.lexsort((-polygon_index, point_index))
        result[point_index[order]] = self.ids[polygon_index[order]]
        return result
