"""Shared fixtures: the St Kitts and Nevis parishes on an H3 grid."""

from pathlib import Path

import pytest

from spatial.grid import cover_communities, polygons_from_geojson
from spatial.weights import h3_neighbours

KNA_PARISHES = Path("/work/shared/data/kna_parishes/geoBoundaries-KNA-ADM1_simplified.geojson")

NEVIS_PARISHES = {
    "Saint George Gingerland",
    "Saint James Windward",
    "Saint John Figtree",
    "Saint Paul Charlestown",
    "Saint Thomas Lowland",
}


@pytest.fixture(scope="session")
def kna_parishes():
    if not KNA_PARISHES.exists():
        pytest.skip(f"{KNA_PARISHES} not available")
    polygons, properties = polygons_from_geojson(KNA_PARISHES)
    names = [p["shapeName"] for p in properties]
    return polygons, names


@pytest.fixture(scope="session")
def kna_grid(kna_parishes):
    polygons, _ = kna_parishes
    return cover_communities(polygons, list(range(len(polygons))), 9)


@pytest.fixture(scope="session")
def kna_graph(kna_grid):
    return h3_neighbours(kna_grid.cells, k=1)
