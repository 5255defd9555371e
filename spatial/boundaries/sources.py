"""Recognising a boundary file's format and finding the dataset and layer to read.

Everything GDAL opens is a real file inside the upload workspace, under a name
chosen here: the uploaded name is only used for its extension and in messages.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

import pyogrio
import pyogrio.errors

from spatial import uploads
from spatial.file_guard import check_before_gdal
from spatial.boundaries.shapefile import check_shapefile_parts
from spatial.errors import InvalidUpload
from spatial.uploads import ArchiveEntry, UploadLimits

GEOJSON, SHAPEFILE, GEOPACKAGE, KML, KMZ = "GeoJSON", "Shapefile", "GeoPackage", "KML", "KMZ"

SUPPORTED = (
    "GeoJSON (.geojson, .json), a zipped Shapefile (.zip with .shp, .shx, .dbf and .prj), "
    "GeoPackage (.gpkg), KML (.kml) or KMZ (.kmz)"
)

# What each extension promises about the content, and the name it gets in messages.
_EXPECTED = {
    ".geojson": (uploads.JSON, GEOJSON),
    ".json": (uploads.JSON, GEOJSON),
    ".gpkg": (uploads.SQLITE, GEOPACKAGE),
    ".kml": (uploads.XML, KML),
    ".zip": (uploads.ZIP, "ZIP archive"),
    ".kmz": (uploads.ZIP, KMZ),
}
_CONTENT_WORDS = {
    uploads.ZIP: "a ZIP archive",
    uploads.SQLITE: "an SQLite database (like a GeoPackage)",
    uploads.JSON: "JSON text (like GeoJSON)",
    uploads.XML: "XML text (like KML)",
    uploads.TEXT: "plain text",
    uploads.BINARY: "binary data of an unknown kind",
}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".qpj", ".shp.xml")
_READER_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
    RuntimeError,
    ValueError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class BoundarySource:
    """A dataset ready to read: a real file in the workspace, its format and layer."""

    path: Path
    format: str
    layer: str
    has_prj: bool = True  # only ever False for a shapefile


def prepare_source(
    upload: Path, original_name: str, layer: str | None, workspace: Path, limits: UploadLimits
) -> BoundarySource:
    """Check the upload, copy or unpack it into ``workspace`` and pick the layer."""
    uploads.check_upload_size(upload, limits)
    extension = _extension(original_name)
    content = uploads.sniff_content(upload)
    fmt = _format_for(original_name, extension, content)
    if fmt in (KMZ, "ZIP archive"):
        entries = uploads.safe_extract_zip(upload, workspace / "unpacked", limits)
        return _source_in_archive(entries, original_name, layer)
    suffix = {GEOJSON: ".geojson", GEOPACKAGE: ".gpkg", KML: ".kml"}[fmt]
    copy = workspace / f"{_safe_stem(original_name)}{suffix}"
    shutil.copyfile(upload, copy)
    if fmt == KML:
        _check_kml(copy, original_name)
    return BoundarySource(copy, fmt, choose_layer(copy, fmt, layer, original_name))


def _safe_stem(original_name: str) -> str:
    """The uploaded name's stem reduced to safe characters (GDAL names a GeoJSON layer after it)."""
    stem = PurePosixPath(original_name.replace("\\", "/")).stem
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-.")[:60]
    return cleaned or "boundaries"


def _extension(original_name: str) -> str:
    name = PurePosixPath(original_name.replace("\\", "/")).name.lower()
    return ".shp.xml" if name.endswith(".shp.xml") else PurePosixPath(name).suffix


def _format_for(original_name: str, extension: str, content: str) -> str:
    if extension in _SHAPEFILE_PARTS:
        raise InvalidUpload(
            f"'{original_name}' is only one part of a shapefile. Put the .shp, .shx, .dbf and .prj "
            "files (and .cpg if there is one) together in one .zip file and upload that.",
            {"extension": extension},
        )
    if extension not in _EXPECTED:
        raise InvalidUpload(
            f"'{original_name}' is not a supported boundary file. Upload {SUPPORTED}.",
            {"extension": extension, "content": content},
        )
    expected_content, fmt = _EXPECTED[extension]
    if content != expected_content:
        raise InvalidUpload(
            f"The file is named '{original_name}', so it should be {fmt}, but it contains "
            f"{_CONTENT_WORDS[content]}. Check that you picked the right file, or give it the "
            f"extension that matches what it is. Supported: {SUPPORTED}.",
            {"extension": extension, "content": content, "reason": "wrong_extension"},
        )
    return fmt


def _check_kml(path: Path, shown_name: str) -> None:
    uploads.refuse_xml_declarations(path, shown_name)
    with path.open("rb") as handle:
        head = handle.read(64 * 1024).lower()
    if b"<kml" not in head and b"k\x00m\x00l\x00" not in head and b"\x00k\x00m\x00l" not in head:
        raise InvalidUpload(
            f"'{shown_name}' is XML but not KML (it has no <kml> element). "
            f"Upload {SUPPORTED}.",
            {"reason": "not_kml"},
        )


def _source_in_archive(entries: list[ArchiveEntry], original_name: str, layer: str | None) -> BoundarySource:
    useful = [entry for entry in entries if not _is_clutter(entry.name)]
    by_extension: dict[str, list[ArchiveEntry]] = {}
    for entry in useful:
        by_extension.setdefault(_extension(entry.name), []).append(entry)
    for kml in by_extension.get(".kml", []):
        uploads.refuse_xml_declarations(kml.path, kml.name)
    if by_extension.get(".shp"):
        return _shapefile_source(by_extension[".shp"], useful, layer, original_name)
    if by_extension.get(".kml"):
        main = _main_kml(by_extension[".kml"])
        _check_kml(main.path, main.name)
        return BoundarySource(main.path, KMZ, choose_layer(main.path, KMZ, layer, main.name))
    inner = [entry for ext in (".gpkg", ".geojson", ".json") for entry in by_extension.get(ext, [])]
    if len(inner) == 1:
        entry = inner[0]
        fmt = _format_for(entry.name, _extension(entry.name), uploads.sniff_content(entry.path))
        return BoundarySource(entry.path, fmt, choose_layer(entry.path, fmt, layer, entry.name))
    names = [entry.name for entry in useful]
    if len(inner) > 1:
        raise InvalidUpload(
            "The ZIP archive holds several boundary files. Upload one at a time.",
            {"files": names},
        )
    raise InvalidUpload(
        f"The ZIP archive '{original_name}' holds no shapefile (.shp), KML, GeoPackage or GeoJSON. "
        f"It contains: {', '.join(names) or 'nothing'}.",
        {"files": names},
    )


def _is_clutter(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(part == "__MACOSX" or part.startswith(".") for part in parts)


def _main_kml(kmls: list[ArchiveEntry]) -> ArchiveEntry:
    # By the KMZ convention the main document is doc.kml, else the first .kml.
    for entry in kmls:
        if entry.name.replace("\\", "/").lower() == "doc.kml":
            return entry
    return kmls[0]


def _shapefile_source(
    shps: list[ArchiveEntry], entries: list[ArchiveEntry], layer: str | None, original_name: str
) -> BoundarySource:
    layers = _shapefile_layer_names(shps)
    chosen = _choose(list(layers), layer, original_name)
    shp = layers[chosen]
    siblings = _gather_siblings(shp, entries)
    missing = [ext for ext in (".shx", ".dbf") if ext not in siblings]
    if missing:
        raise InvalidUpload(
            f"The shapefile '{chosen}' is incomplete: the ZIP archive has no {' or '.join(missing)} file. "
            "A shapefile needs its .shp, .shx, .dbf and .prj files together; zip them all and upload again.",
            {"layer": chosen, "missing": missing},
        )
    check_shapefile_parts(chosen, siblings[".shp"], siblings[".shx"], siblings[".dbf"])
    choose_layer(siblings[".shp"], SHAPEFILE, None, shp.name)
    return BoundarySource(siblings[".shp"], SHAPEFILE, chosen, has_prj=".prj" in siblings)


def _shapefile_layer_names(shps: list[ArchiveEntry]) -> dict[str, ArchiveEntry]:
    """Shapefiles by their name without .shp; the folder is kept only where names repeat."""
    stems = [PurePosixPath(entry.name.replace("\\", "/")).stem for entry in shps]
    if len(set(stems)) == len(stems):
        return dict(zip(stems, shps))
    return {str(PurePosixPath(entry.name.replace("\\", "/")).with_suffix("")): entry for entry in shps}


def _gather_siblings(shp: ArchiveEntry, entries: list[ArchiveEntry]) -> dict[str, Path]:
    """The files that belong with a .shp, renamed to its stem with lower-case extensions.

    GDAL looks for ``stem.dbf`` and so on; on a case-sensitive disk ``STEM.DBF``
    next to ``stem.shp`` would be missed.
    """
    base = shp.path.with_suffix("")
    siblings = {}
    for entry in entries:
        if entry.path.parent != base.parent or entry.path.stem.lower() != base.name.lower():
            continue
        suffix = entry.path.suffix.lower()
        target = base.with_name(base.name + suffix)
        if entry.path != target:
            entry.path.rename(target)
        siblings[suffix] = target
    return siblings


def choose_layer(path: Path, fmt: str, layer: str | None, shown_name: str) -> str:
    """The layer to read: the one named, else the only layer with geometry.

    This is the first time GDAL sees the file, so the checks GDAL must not skip run here.
    """
    check_before_gdal(path, shown_name)
    layers = reader_call(lambda: pyogrio.list_layers(path), fmt)
    names = [str(name) for name, _ in layers]
    spatial = [str(name) for name, geometry_type in layers if geometry_type is not None]
    if layer is not None:
        return _choose(names, layer, shown_name)
    if not names:
        raise InvalidUpload(f"'{shown_name}' has no layers, so there are no boundaries in it.", {})
    return _choose(spatial or names, None, shown_name)


def _choose(names: list[str], wanted: str | None, shown_name: str) -> str:
    if wanted is not None:
        if wanted in names:
            return wanted
        raise InvalidUpload(
            f"There is no layer called '{wanted}' in '{shown_name}'. The layers are: {', '.join(names)}.",
            {"layer": wanted, "layers": names},
        )
    if len(names) == 1:
        return names[0]
    raise InvalidUpload(
        f"'{shown_name}' has {len(names)} layers: {', '.join(names)}. Choose the layer that holds "
        "the community boundaries.",
        {"layers": names, "reason": "several_layers"},
    )


def reader_call(read: Callable[[], T], fmt: str) -> T:
    """Run a pyogrio/GDAL call, turning its errors into a message for the uploader."""
    try:
        return read()
    except _READER_ERRORS as error:
        raise InvalidUpload(
            f"The {fmt} file could not be read; it may be damaged or incomplete. "
            "Export it again from your GIS and upload the new file.",
            {"format": fmt, "reader_message": str(error).strip()},
        ) from None
