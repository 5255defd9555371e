"""The Chicago community areas with their 2020 population, and the 10k incidents counted per area.

Read from ``../shared/data/chicago`` (see its README): the 77 community areas
(GeoDa Center, 2020 ACS variables) and 10,000 Chicago police incidents of
2012-01-01 to 2012-02-14. Incidents are counted per area here, in the test
data itself, by point in polygon with shapely: an independent count for the
rates the code computes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely

from spatial.grid import polygons_from_geojson
from tests.spatial.bad_boundaries import DATA

CHICAGO_AREAS = DATA / "chicago" / "Chicago_2020_community_areas.geojson"
CHICAGO_INCIDENTS = DATA / "chicago" / "chicago_crimes_2012_10k.csv"


@dataclass(frozen=True)
class ChicagoAreas:
    polygons: list
    names: list[str]
    population: np.ndarray
    unemployment: np.ndarray  # unemployed per person in the labour force
    incidents: np.ndarray  # incidents counted inside each area (shapely)
    located: int  # incidents with coordinates


def count_points_in_areas(polygons: list, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Incidents per area by point in polygon (an incident on a shared edge goes to the first area)."""
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(polygons)
    point_index, area_index = tree.query(points, predicate="intersects")
    first = np.full(len(points), len(polygons))
    np.minimum.at(first, point_index, area_index)
    return np.bincount(first[first < len(polygons)], minlength=len(polygons))


@cache
def chicago_areas() -> ChicagoAreas:
    polygons, properties = polygons_from_geojson(CHICAGO_AREAS)
    lon, lat = [], []
    with open(CHICAGO_INCIDENTS, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["longitude"] and row["latitude"]:
                lon.append(float(row["longitude"]))
                lat.append(float(row["latitude"]))
    return ChicagoAreas(
        polygons=polygons,
        names=[p["community"].title() for p in properties],
        population=np.array([p["TOT_POP"] for p in properties], dtype=float),
        unemployment=np.array([p["UNEMP"] / p["IN_LBFRC"] for p in properties]),
        incidents=count_points_in_areas(polygons, np.array(lon), np.array(lat)),
        located=len(lon),
    )
