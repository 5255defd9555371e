"""spatial.uploads on its own: the safety rules incident uploads will reuse."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyogrio
import pytest

import spatial.boundaries.reader as reader
from spatial import uploads
from spatial.boundaries import read_boundary_file
from spatial.errors import InvalidUpload, SpatialInputError, UploadTooLarge
from spatial.uploads import UploadLimits, refuse_xml_declarations, safe_extract_zip, sniff_content, upload_workspace
from tests.spatial import bad_boundaries as bad


def test_error_hierarchy():
    assert issubclass(InvalidUpload, SpatialInputError)
    assert issubclass(UploadTooLarge, InvalidUpload)
    error = InvalidUpload("Bad file.", {"layers": ["a"]})
    assert error.message == "Bad file." and error.details == {"layers": ["a"]} and str(error) == "Bad file."
    assert error.to_dict() == {"message": "Bad file.", "details": {"layers": ["a"]}}


def test_workspace_removed_even_after_an_error(private_tempdir):
    with pytest.raises(RuntimeError):
        with upload_workspace() as directory:
            (directory / "x").write_text("x")
            raise RuntimeError("boom")
    assert not directory.exists()
    assert list(private_tempdir.iterdir()) == []


def test_safe_extract_keeps_folders_inside_destination(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("export/", b"")
        bundle.writestr("export/parishes.shp", b"shape")
        bundle.writestr("readme.txt", b"hello")
    destination = tmp_path / "out"
    entries = safe_extract_zip(archive, destination, UploadLimits())
    assert sorted(entry.name for entry in entries) == ["export/parishes.shp", "readme.txt"]
    assert (destination / "export" / "parishes.shp").read_bytes() == b"shape"
    assert all(destination in entry.path.parents for entry in entries)


def test_ratio_check_ignores_small_entries(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("padding.dbf", b" " * 500_000)  # ratio ~1000, but only 0.5 MB
    assert len(safe_extract_zip(archive, tmp_path / "out", UploadLimits())) == 1


def test_declared_total_checked_before_anything_is_written(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("one.geojson", b"x" * 600)
        bundle.writestr("two.geojson", b"x" * 600)
    destination = tmp_path / "out"
    with pytest.raises(UploadTooLarge):
        safe_extract_zip(archive, destination, UploadLimits(max_uncompressed_bytes=1000))
    assert not destination.exists()


def test_lying_sizes_never_write_more_than_declared(tmp_path):
    path, _ = bad.make_lying_size(tmp_path)
    destination = tmp_path / "out"
    with pytest.raises(InvalidUpload):
        safe_extract_zip(path, destination, UploadLimits())
    written = sum(f.stat().st_size for f in destination.rglob("*") if f.is_file())
    assert written <= 10


def test_encrypted_entry_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("parishes.shp", b"shape")
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature) + offset
        data[position] |= 0x1  # the "encrypted" flag bit
    archive.write_bytes(bytes(data))
    with pytest.raises(InvalidUpload, match="password-protected"):
        safe_extract_zip(archive, tmp_path / "out", UploadLimits())


def test_duplicate_entries_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("parishes.shp", b"one")
            bundle.writestr("parishes.shp", b"two")
    with pytest.raises(InvalidUpload, match="more than once"):
        safe_extract_zip(archive, tmp_path / "out", UploadLimits())


def test_not_a_zip_at_all(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(InvalidUpload, match="damaged or incomplete"):
        safe_extract_zip(archive, tmp_path / "out", UploadLimits())


@pytest.mark.parametrize("content, kind", [
    (b"PK\x03\x04rest", uploads.ZIP),
    (b"SQLite format 3\x00rest", uploads.SQLITE),
    (b'\xef\xbb\xbf  {"type": "FeatureCollection"}', uploads.JSON),
    ('<?xml version="1.0" encoding="UTF-16"?><kml/>'.encode("utf-16"), uploads.XML),
    (b"name,code\nDowntown,1\n", uploads.TEXT),
    (bytes(range(256)), uploads.BINARY),
])
def test_sniff_content(tmp_path, content, kind):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert sniff_content(path) == kind


def test_xml_declaration_found_across_chunk_boundary(tmp_path):
    path = tmp_path / "big.kml"
    prefix = b"<kml>" + b" " * (1024 * 1024 - 8)  # "<!ENTITY" straddles the 1 MiB read boundary
    path.write_bytes(prefix + b"<!ENTITY x 'y'></kml>")
    with pytest.raises(InvalidUpload, match="DOCTYPE"):
        refuse_xml_declarations(path, "big.kml")
    clean = tmp_path / "clean.kml"
    clean.write_bytes(b"<kml><Document><name>&amp; fine</name></Document></kml>")
    refuse_xml_declarations(clean, "clean.kml")


def test_gdal_only_opens_files_inside_the_workspace(monkeypatch, private_tempdir):
    """Even a name that looks like a GDAL virtual path is only used for its extension."""
    opened: list[str] = []
    real_read = pyogrio.read_dataframe

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(reader.pyogrio, "read_dataframe", spy)
    result = read_boundary_file(bad.KNA, original_name="/vsicurl/http://example.invalid/parishes.geojson")
    assert len(result.communities) == 14
    (path,) = opened
    assert Path(path).is_relative_to(private_tempdir) and "/vsi" not in path and "://" not in path
    assert list(private_tempdir.iterdir()) == []


def test_clashing_entry_names(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("export", b"a file")
        bundle.writestr("export/parishes.shp", b"shape")
    with pytest.raises(InvalidUpload, match="clash"):
        safe_extract_zip(archive, tmp_path / "out", UploadLimits())
