"""Reading real boundary files (shared/data) in every supported format."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon

from spatial.boundaries import read_boundary_file
from spatial.errors import InvalidUpload, SpatialInputError
from tests.spatial.bad_boundaries import KNA, SF_SHAPEFILE, zip_shapefile
from tests.spatial.conftest import CHICAGO

KNA_NAMES = 14
KNA_AREA_KM2 = 262.8  # shared/data/README.md
CHICAGO_BBOX = (-87.95, 41.64, -87.52, 42.03)
KNA_BBOX = (-62.9, 17.05, -62.5, 17.45)


def assert_lonlat_multipolygons(result):
    for community in result.communities:
        assert isinstance(community.geometry, MultiPolygon)
        assert community.geometry.is_valid
        minx, miny, maxx, maxy = community.geometry.bounds
        assert -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def test_chicago_geojson_crs84(private_tempdir):
    result = read_boundary_file(CHICAGO, original_name="Chicago_2020_community_areas.geojson",
                                service_area=CHICAGO_BBOX)
    assert result.format == "GeoJSON"
    assert len(result.communities) == 77
    assert result.fields.name == "community"
    assert result.fields.code == "area_num_1"
    assert result.fields.population == "TOT_POP"
    assert result.source_crs == "EPSG:4326"
    douglas = next(c for c in result.communities if c.name == "DOUGLAS")
    assert douglas.code == "35" and douglas.population == 21325
    # shape_area in the file is in square feet (State Plane): 46,004,621 ft² = 4.274 km².
    assert douglas.area_km2 == pytest.approx(46004621.1581 * 0.09290304 / 1e6, rel=2e-3)
    assert_lonlat_multipolygons(result)
    report = result.report
    # Norwood Park is a multipolygon with a nested duplicate shell: repaired, not holed.
    assert [(p.feature_number, p.name) for p in report.repaired] == [(36, "NORWOOD PARK")]
    assert "Nested shells" in report.repaired[0].reason
    norwood = next(c for c in result.communities if c.name == "NORWOOD PARK")
    original = pyogrio.read_dataframe(CHICAGO, where="community = 'NORWOOD PARK'").geometry[0]
    assert norwood.geometry.area == pytest.approx(max(p.area for p in original.geoms), rel=1e-9)
    assert report.refused == [] and report.duplicate_names == [] and report.overlaps == []
    # Norridge and Harwood Heights are villages enclosed by Chicago: a real gap of ~8 km².
    assert report.gaps[0].area_m2 == pytest.approx(8.0e6, rel=0.05)
    assert "NORWOOD PARK" in report.gaps[0].bordering
    assert report.outside_service_area == []
    json.dumps(report.to_dict())  # JSON-able
    assert list(private_tempdir.iterdir()) == []  # workspace removed


def test_kna_parishes_geojson_two_islands():
    result = read_boundary_file(KNA, original_name="parishes.geojson", service_area=KNA_BBOX)
    assert len(result.communities) == KNA_NAMES
    assert result.fields.name == "shapeName" and result.fields.code == "shapeISO"
    assert sum(c.area_km2 for c in result.communities) == pytest.approx(KNA_AREA_KM2, rel=0.005)
    union = shapely.union_all([c.geometry for c in result.communities])
    assert len(union.geoms) >= 2  # St Kitts and Nevis
    report = result.report
    assert report.repaired == [] and report.refused == [] and report.overlaps == [] and report.gaps == []
    assert report.outside_service_area == []


def test_service_area_warns_about_communities_outside():
    # Only the St Kitts half of the box: Nevis parishes lie outside.
    result = read_boundary_file(KNA, original_name="parishes.geojson", service_area=(-62.9, 17.22, -62.5, 17.45))
    outside = {item.name for item in result.report.outside_service_area if item.entirely}
    assert {"Saint George Gingerland", "Saint Paul Charlestown"} <= outside
    assert "Saint George Basseterre" not in outside
    assert any("outside the service area" in warning for warning in result.report.warnings)
    far = read_boundary_file(KNA, original_name="parishes.geojson", service_area=CHICAGO_BBOX)
    assert len(far.report.outside_service_area) == KNA_NAMES
    assert any("None of the communities" in warning for warning in far.report.warnings)


def test_sf_zipped_shapefile_with_prj(made):
    result = read_boundary_file(made["sf_zip"], original_name="SFCrime_blocks.zip", name_field="GEO_ID")
    assert result.format == "Shapefile" and result.layer == "SFCrime_blocks"
    assert len(result.communities) == 579
    assert result.source_crs == "EPSG:4269"  # NAD83 geographic, from the .prj
    assert result.fields.population == "Population"
    assert result.report.duplicate_names == []
    assert_lonlat_multipolygons(result)
    expected = gpd.read_file(SF_SHAPEFILE.with_suffix(".shp")).to_crs(4326)
    assert shapely.total_bounds([c.geometry for c in result.communities]) == pytest.approx(
        expected.total_bounds, abs=1e-6)


def test_sf_detected_name_field_reports_duplicates(made):
    # NAME is the block group number within a tract: detected, and its repeats reported.
    result = read_boundary_file(made["sf_zip"], original_name="SFCrime_blocks.zip")
    assert result.fields.name == "NAME"
    assert result.fields.code == "GEO_ID"
    duplicates = {d.name: d.feature_numbers for d in result.report.duplicate_names}
    assert "1" in duplicates and len(duplicates["1"]) > 100
    assert result.report.duplicate_codes == []


def test_geopackage_single_layer(made):
    result = read_boundary_file(made["kna_gpkg"], original_name="parishes.gpkg")
    assert result.format == "GeoPackage" and result.layer == "parishes"
    assert len(result.communities) == KNA_NAMES


def test_geopackage_several_layers_lists_them(made):
    with pytest.raises(InvalidUpload) as refused:
        read_boundary_file(made["multi_gpkg"], original_name="boundaries.gpkg")
    assert "parishes" in refused.value.message and "chicago_areas" in refused.value.message
    assert refused.value.details["layers"] == ["parishes", "chicago_areas"]
    chosen = read_boundary_file(made["multi_gpkg"], original_name="boundaries.gpkg", layer="chicago_areas")
    assert chosen.layer == "chicago_areas" and len(chosen.communities) == 77
    with pytest.raises(InvalidUpload, match="no layer called 'wards'") as missing:
        read_boundary_file(made["multi_gpkg"], original_name="boundaries.gpkg", layer="wards")
    assert missing.value.details["layers"] == ["parishes", "chicago_areas"]


@pytest.mark.parametrize("key", ["utm_gpkg", "utm_shp_zip", "utm_geojson"])
def test_projected_crs_is_reprojected_within_a_metre(made, kna_frame, key):
    name = made[key].name
    result = read_boundary_file(made[key], original_name=name)
    assert result.source_crs == "EPSG:32620"
    assert len(result.communities) == KNA_NAMES
    originals = dict(zip(kna_frame.shapeName, kna_frame.geometry))
    for community in result.communities:
        # 1e-5 degrees is about 1.1 m of latitude here.
        assert shapely.hausdorff_distance(community.geometry, originals[community.name]) < 1e-5
    assert sum(c.area_km2 for c in result.communities) == pytest.approx(KNA_AREA_KM2, rel=0.005)


@pytest.mark.parametrize("key, fmt, name_field", [
    ("kml", "KML", "Name"),
    ("libkml", "KML", "shapeName"),
    ("kmz", "KMZ", "Name"),
])
def test_kml_and_kmz(made, key, fmt, name_field):
    result = read_boundary_file(made[key], original_name=made[key].name)
    assert result.format == fmt
    assert result.fields.name == name_field
    assert len(result.communities) == KNA_NAMES
    assert "Saint George Basseterre" in {c.name for c in result.communities}
    assert sum(c.area_km2 for c in result.communities) == pytest.approx(KNA_AREA_KM2, rel=0.005)
    assert_lonlat_multipolygons(result)


@pytest.mark.parametrize("encoding, cpg", [("ISO-8859-1", b"ISO-8859-1"), ("cp1252", b"1252"), ("UTF-8", b"UTF-8")])
def test_shapefile_cpg_encoding(tmp_path, kna_frame, encoding, cpg):
    frame = kna_frame.head(3).copy()
    frame["shapeName"] = ["Saint Barthélemy", "Sainte-Anne-des-Monts", "Île Saint-Michel"]
    directory = tmp_path / "enc"
    directory.mkdir()
    shp = directory / "parishes.shp"
    pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile", encoding=encoding)
    shp.with_suffix(".cpg").write_bytes(cpg)
    dbf = shp.with_suffix(".dbf").read_bytes()
    assert "Barthélemy".encode(encoding) in dbf  # really written in that encoding
    archive, _ = zip_shapefile(directory, shp.with_suffix(""), (".shp", ".shx", ".dbf", ".prj", ".cpg"))
    result = read_boundary_file(archive, original_name="parishes.zip")
    assert [c.name for c in result.communities] == ["Saint Barthélemy", "Sainte-Anne-des-Monts", "Île Saint-Michel"]


def test_field_overrides_and_unknown_field():
    result = read_boundary_file(CHICAGO, original_name="areas.geojson", name_field="GEOG", code_field="GEOID",
                                population_field="2010_POP")
    douglas = next(c for c in result.communities if c.name == "Douglas")
    assert douglas.code == "35" and douglas.population == 18238
    with pytest.raises(InvalidUpload) as refused:
        read_boundary_file(KNA, original_name="parishes.geojson", name_field="parish_name")
    message = refused.value.message
    assert "'parish_name'" in message and "shapeName" in message and "shapeISO" in message
    assert refused.value.details["available_fields"] == ["shapeName", "Level", "shapeISO", "shapeID",
                                                         "shapeGroup", "shapeType"]
    with pytest.raises(InvalidUpload, match="holds no numbers"):
        read_boundary_file(KNA, original_name="parishes.geojson", population_field="shapeName")


def test_explicit_source_crs_overrides_the_file(tmp_path, kna_frame):
    path = tmp_path / "utm.gpkg"
    pyogrio.write_dataframe(kna_frame.to_crs(32620).set_crs(4326, allow_override=True), path, driver="GPKG")
    result = read_boundary_file(path, original_name="utm.gpkg", source_crs="EPSG:32620")
    assert result.source_crs == "EPSG:32620"
    assert "WGS 84" in result.report.warnings[0]
    with pytest.raises(InvalidUpload, match="not a coordinate system"):
        read_boundary_file(path, original_name="utm.gpkg", source_crs="EPSG:99999999")


def test_zip_holding_a_geojson_is_read(tmp_path):
    archive = tmp_path / "parishes.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(KNA, "export/parishes.geojson")
        bundle.writestr("__MACOSX/export/._parishes.geojson", b"\x00\x05\x16\x07")
    result = read_boundary_file(archive, original_name="parishes.zip")
    assert result.format == "GeoJSON" and len(result.communities) == KNA_NAMES


def test_errors_share_one_base_class():
    with pytest.raises(SpatialInputError):
        read_boundary_file(KNA, original_name="parishes.txt")


def test_zip_with_two_shapefiles_lists_them(tmp_path, made):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(made["sf_zip"]) as sf, zipfile.ZipFile(made["utm_shp_zip"]) as utm, \
            zipfile.ZipFile(archive, "w") as bundle:
        for source in (sf, utm):
            for info in source.infolist():
                bundle.writestr(info.filename, source.read(info))
    with pytest.raises(InvalidUpload) as refused:
        read_boundary_file(archive, original_name="two.zip")
    assert sorted(refused.value.details["layers"]) == ["SFCrime_blocks", "parishes_utm"]
    chosen = read_boundary_file(archive, original_name="two.zip", layer="parishes_utm")
    assert chosen.layer == "parishes_utm" and len(chosen.communities) == KNA_NAMES


def test_shapefile_parts_with_mixed_case_names(tmp_path):
    archive = tmp_path / "upper.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(SF_SHAPEFILE.with_suffix(".shp"), "plots/SFCrime_blocks.shp")
        for suffix in (".shx", ".dbf", ".prj"):
            bundle.write(SF_SHAPEFILE.with_suffix(suffix), "plots/sfcrime_BLOCKS" + suffix.upper())
    result = read_boundary_file(archive, original_name="upper.zip", name_field="GEO_ID")
    assert len(result.communities) == 579 and result.source_crs == "EPSG:4269"
