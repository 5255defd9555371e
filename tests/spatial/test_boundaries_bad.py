"""The bad-file corpus: each file is refused with a clear message, or repaired and reported."""

from __future__ import annotations

import json

import pytest

from spatial.boundaries import NO_PRJ_MESSAGE, UploadLimits, read_boundary_file
from spatial.errors import InvalidUpload, UploadTooLarge
from tests.spatial import bad_boundaries as bad


def read(made: tuple, **options):
    path, original_name = made
    return read_boundary_file(path, original_name=original_name, **options)


def refused(made: tuple, error=InvalidUpload, **options) -> InvalidUpload:
    with pytest.raises(error) as caught:
        read(made, **options)
    message = caught.value.message
    assert "Traceback" not in message and (message[0].isupper() or message[0] == "'") and message.endswith((".", ")"))
    json.dumps(caught.value.to_dict())
    return caught.value


@pytest.fixture
def workdir(tmp_path):
    directory = tmp_path / "bad"
    directory.mkdir()
    return directory


@pytest.fixture(autouse=True)
def workspace_always_removed(private_tempdir):
    yield
    assert list(private_tempdir.iterdir()) == []


def test_zip_bomb_by_compression_ratio(workdir):
    error = refused(bad.make_ratio_bomb(workdir), UploadTooLarge)
    assert "zip bomb" in error.message and error.details["reason"] == "compression_ratio"


def test_zip_bomb_by_declared_size(workdir):
    error = refused(bad.make_declared_size_bomb(workdir), UploadTooLarge)
    assert "would unpack to more than 1024.0 MB" in error.message


def test_zip_whose_sizes_lie_is_caught_while_extracting(workdir):
    error = refused(bad.make_lying_size(workdir))
    assert "damaged" in error.message or "more than it declares" in error.message


@pytest.mark.parametrize("entry", ["../../evil.shp", "/etc/evil.shp", "C:/evil.shp", "C:\\evil.shp",
                                   "data/../../evil.shp", "..\\evil.shp"])
def test_path_traversal_entries(workdir, entry):
    error = refused(bad.make_traversal(workdir, entry))
    assert "unsafe file name" in error.message and error.details["reason"] == "path_traversal"


def test_symlink_entry(workdir):
    error = refused(bad.make_symlink_entry(workdir))
    assert "symbolic link" in error.message


def test_too_many_entries(workdir):
    error = refused(bad.make_too_many_entries(workdir), UploadTooLarge)
    assert "1001 files" in error.message


@pytest.mark.parametrize("make", [bad.make_kml_with_entity, bad.make_utf16_kml_with_doctype,
                                  bad.make_kmz_with_entity])
def test_kml_with_doctype_or_entity(workdir, make):
    error = refused(make(workdir))
    assert "<!DOCTYPE> or <!ENTITY>" in error.message and error.details["reason"] == "xml_declaration"


def test_shapefile_without_prj_is_refused_unless_crs_given(workdir):
    error = refused(bad.make_shapefile_without_prj(workdir))
    assert error.message == NO_PRJ_MESSAGE
    assert "no .prj file" in error.message and "EPSG:32620" in error.message
    result = read(bad.make_shapefile_without_prj(workdir), source_crs="EPSG:4269", name_field="GEO_ID")
    assert len(result.communities) == 579
    assert result.source_crs == "EPSG:4269"
    assert any(".prj" in warning for warning in result.report.warnings)


@pytest.mark.parametrize("make, why", [
    (bad.make_corrupt_dbf, "not a dBASE table"),
    (bad.make_truncated_dbf, "cut off"),
])
def test_damaged_dbf(workdir, make, why):
    error = refused(make(workdir))
    assert "The .dbf file of the shapefile 'SFCrime_blocks' is damaged" in error.message
    assert why in error.message


def test_shapefile_without_shx(workdir):
    error = refused(bad.make_shapefile_without_shx(workdir))
    assert "incomplete" in error.message and ".shx" in error.message


def test_bowtie_is_repaired_and_listed(workdir):
    result = read(bad.make_bowties(workdir))
    assert [c.name for c in result.communities] == ["Square", "Bow tie"]
    (problem,) = result.report.repaired
    assert problem.feature_number == 2 and problem.name == "Bow tie"
    assert problem.reason.startswith("Self-intersection")
    bowtie = result.communities[1].geometry
    assert bowtie.is_valid and len(bowtie.geoms) == 2  # both triangles kept
    assert bowtie.area == pytest.approx(0.5 * 0.01 * 0.01)
    assert result.report.refused == []


def test_points_instead_of_polygons(workdir):
    error = refused(bad.make_points(workdir))
    assert "None of the 3 features" in error.message
    reasons = error.details["report"]["refused"]
    assert [r["feature_number"] for r in reasons] == [1, 2, 3]
    assert "it is a Point, not an area" in reasons[0]["reason"]


def test_non_polygon_and_empty_features_are_listed(workdir):
    result = read(bad.make_mixed_points_and_polygons(workdir))
    assert [c.name for c in result.communities] == ["Square"]
    refused_features = {(p.feature_number, p.name): p.reason for p in result.report.refused}
    assert "Point" in refused_features[(2, "Police station")]
    assert "no geometry" in refused_features[(3, "Nothing")]


def test_empty_file(workdir):
    assert "empty (0 bytes)" in refused(bad.make_empty_file(workdir)).message


def test_zero_features(workdir):
    message = refused(bad.make_zero_features(workdir)).message
    assert "contains no features" in message and "layer 'none'" in message


def test_zip_named_geojson(workdir):
    error = refused(bad.make_zip_named_geojson(workdir))
    assert "named 'plots.geojson'" in error.message and "a ZIP archive" in error.message
    assert error.details["reason"] == "wrong_extension"


def test_text_pretending_to_be_geopackage(workdir):
    error = refused(bad.make_text_named_gpkg(workdir))
    assert "should be GeoPackage" in error.message and "plain text" in error.message


def test_too_large_upload(workdir):
    error = refused(bad.make_bowties(workdir), UploadTooLarge, limits=UploadLimits(max_upload_bytes=100))
    assert "more than the limit of 100 bytes" in error.message


def test_projected_coordinates_without_crs(workdir):
    error = refused(bad.make_projected_geojson_without_crs(workdir))
    assert "not longitudes and latitudes" in error.message


@pytest.mark.parametrize("name, expected", [
    ("parishes.shp", "only one part of a shapefile"),
    ("parishes.txt", "not a supported boundary file"),
])
def test_unsupported_names(workdir, name, expected):
    path, _ = bad.make_bowties(workdir)
    assert expected in refused((path, name)).message


def test_every_corpus_case_is_covered(tmp_path):
    """The generator and these tests stay in step: build the whole corpus once."""
    corpus = bad.build_corpus(tmp_path / "corpus")
    assert set(corpus) == set(bad.BAD_FILES)
    for path, original_name in corpus.values():
        assert path.exists() and original_name
