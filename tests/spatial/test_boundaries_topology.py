"""Overlaps, gaps, slivers, duplicates and attribute quirks on small made-up layouts.

Expected areas come from pyproj's geodesic polygon area on WGS84; the reader
uses a local Lambert azimuthal equal-area projection, so they agree closely.
"""

from __future__ import annotations

import pytest
from pyproj import Geod
from shapely.geometry import Point, box, mapping

from spatial.boundaries import read_boundary_file
from tests.spatial.bad_boundaries import feature_collection

GEOD = Geod(ellps="WGS84")
CELL = 0.01  # degrees, about 1.1 km near the equator


def geodesic_m2(geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0])


def write(tmp_path, features, name="layout.geojson"):
    path = tmp_path / name
    path.write_text(feature_collection([(props, mapping(geom) if geom is not None else None)
                                        for props, geom in features]))
    return read_boundary_file(path, original_name=name)


def grid(skip_middle=True, middle=None):
    """A 3x3 grid of cells named by row and column, optionally without or with a custom middle."""
    features = []
    for row in range(3):
        for col in range(3):
            cell = box(col * CELL, row * CELL, (col + 1) * CELL, (row + 1) * CELL)
            if (row, col) == (1, 1):
                if skip_middle:
                    continue
                cell = middle or cell
            features.append(({"name": f"R{row}C{col}", "code": f"{row}{col}"}, cell))
    return features


def test_overlap_area_in_square_metres(tmp_path):
    west, east = box(0, 0, CELL, CELL), box(0.008, 0, 0.018, CELL)
    result = write(tmp_path, [({"name": "West"}, west), ({"name": "East"}, east)])
    (overlap,) = result.report.overlaps
    assert (overlap.feature_a, overlap.name_a, overlap.feature_b, overlap.name_b) == (1, "West", 2, "East")
    assert overlap.area_m2 == pytest.approx(geodesic_m2(west.intersection(east)), rel=1e-3)
    assert west.intersection(east).contains(Point(overlap.location))
    assert result.communities[0].area_km2 == pytest.approx(geodesic_m2(west) / 1e6, rel=1e-3)
    assert result.report.gaps == []


def test_gap_between_communities(tmp_path):
    result = write(tmp_path, grid(skip_middle=True))
    (gap,) = result.report.gaps
    middle = box(CELL, CELL, 2 * CELL, 2 * CELL)
    assert gap.area_m2 == pytest.approx(geodesic_m2(middle), rel=1e-3)
    assert middle.contains(Point(gap.location))
    assert len(gap.bordering) == 8  # the four sides and, touching at a corner, the four corners
    assert result.report.overlaps == []


def test_outer_edge_is_not_a_gap(tmp_path):
    result = write(tmp_path, grid(skip_middle=False))
    assert result.report.gaps == [] and result.report.gap_slivers == 0


def test_slivers_are_counted_not_listed(tmp_path):
    inset = 1e-9  # about 0.1 mm: a ring of ~0.4 m² around the middle cell
    shrunk = box(CELL + inset, CELL + inset, 2 * CELL - inset, 2 * CELL - inset)
    result = write(tmp_path, grid(skip_middle=False, middle=shrunk))
    assert result.report.gaps == []
    assert result.report.gap_slivers == 1
    assert 0 < result.report.gap_slivers_area_m2 < 1

    overlapping = [({"name": "A"}, box(0, 0, CELL, CELL)), ({"name": "B"}, box(CELL - inset, 0, 2 * CELL, CELL))]
    result = write(tmp_path, overlapping, "slivers.geojson")
    assert result.report.overlaps == []
    assert result.report.overlap_slivers == 1 and 0 < result.report.overlap_slivers_area_m2 < 1
    assert result.report.to_dict()["sliver_threshold_m2"] == 1.0


def test_duplicate_names_and_codes(tmp_path):
    features = [
        ({"name": "Downtown", "code": "A"}, box(0, 0, CELL, CELL)),
        ({"name": "downtown ", "code": "B"}, box(CELL, 0, 2 * CELL, CELL)),
        ({"name": "Harbour", "code": "A"}, box(2 * CELL, 0, 3 * CELL, CELL)),
    ]
    report = write(tmp_path, features).report
    assert [(d.name, d.feature_numbers) for d in report.duplicate_names] == [("Downtown", [1, 2])]
    assert [(d.name, d.feature_numbers) for d in report.duplicate_codes] == [("A", [1, 3])]


def test_missing_names_and_odd_populations(tmp_path):
    features = [
        ({"NAME": "Downtown", "Population": "1200"}, box(0, 0, CELL, CELL)),
        ({"NAME": None, "Population": "unknown"}, box(CELL, 0, 2 * CELL, CELL)),
        ({"NAME": "Harbour", "Population": "350.5"}, box(2 * CELL, 0, 3 * CELL, CELL)),
    ]
    path = tmp_path / "odd.geojson"
    path.write_text(feature_collection([(p, mapping(g)) for p, g in features]))
    result = read_boundary_file(path, original_name="odd.geojson", population_field="population")
    assert result.fields.name == "NAME" and result.fields.population == "Population"
    assert [c.name for c in result.communities] == ["Downtown", "Feature 2", "Harbour"]
    assert [c.population for c in result.communities] == [1200, None, 350.5]
    warnings = " ".join(result.report.warnings)
    assert "Feature(s) 2 have no name" in warnings and "population of feature(s) 2" in warnings


def test_geometry_collection_keeps_polygon_parts(tmp_path):
    collection = {"type": "GeometryCollection", "geometries": [
        mapping(box(0, 0, CELL, CELL)), {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}]}
    path = tmp_path / "collection.geojson"
    path.write_text(feature_collection([({"name": "Mixed"}, collection)]))
    result = read_boundary_file(path, original_name="collection.geojson")
    assert result.communities[0].geometry.geom_type == "MultiPolygon"
    assert "non-polygon parts" in result.report.warnings[0]
