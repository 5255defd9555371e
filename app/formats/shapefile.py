"""Zipped Shapefile: .shp, .shx, .dbf, .prj (EPSG:4326), .cpg (UTF-8) and a README.txt, in one zip.

A dBASE field name holds at most 10 characters, so longer names are shortened by one stable rule
(``short_field_names``) and README.txt lists every short name beside the full one:

- a name of 10 characters or fewer is kept;
- a longer one keeps its first 10 characters;
- where that would repeat an earlier field's name (dBASE names ignore case), the later field, in
  column order, keeps its first 8 characters and ends in ``_1``, ``_2``… (the first number free).

So ``lisa_quadrant`` is ``lisa_quadr`` and ``incidents_per_km2`` is ``incidents_``, and the same
columns always get the same names.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from app.errors import BadRequest
from app.formats.base import About, Feature
from app.formats.gis_files import GisFileFormat, LayerWriter, readme_text

FIELD_NAME_LIMIT = 10
# A dBASE text field holds at most 254 bytes; GDAL cuts longer values with only a warning.
TEXT_LIMIT = 254


def _fitting(features: Iterable[Feature]) -> Iterator[Feature]:
    """The features, refused (400) at the first text too long for a dBASE field, rather than cut short."""
    for feature in features:
        for name, value in feature.properties.items():
            if isinstance(value, str) and len(value.encode("utf-8")) > TEXT_LIMIT:
                raise BadRequest(f"The field {name!r} holds {len(value.encode('utf-8'))} bytes in a row, and a Shapefile "
                                 f"field holds at most {TEXT_LIMIT}, so it would arrive cut short (an emerging run's "
                                 "series over many steps, for example). Download it as a GeoPackage instead: "
                                 "?format=gpkg.")
        yield feature


def short_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Full name -> a dBASE name of at most 10 characters, unique ignoring case, by the rule above."""
    taken: set[str] = set()
    short: dict[str, str] = {}
    for column in columns:
        name = column[:FIELD_NAME_LIMIT]
        number = 0
        while name.lower() in taken:
            number += 1
            suffix = f"_{number}"
            name = column[:FIELD_NAME_LIMIT - len(suffix)] + suffix
        taken.add(name.lower())
        short[column] = name
    return short


class ShapefileFormat(GisFileFormat):
    """A zipped Shapefile with .prj, .cpg (UTF-8) and README.txt (provenance, privacy, field names)."""

    name = "shp"
    media_type = "application/zip"
    extension = "zip"

    def write_file(self, folder: Path, features: Iterable[Feature], columns: Sequence[str], about: About) -> Path:
        names = short_field_names(columns)
        shapes = folder / "shapes"
        shapes.mkdir()
        LayerWriter(shapes / f"{about.name}.shp", "ESRI Shapefile", about.name, columns,
                    [names[c] for c in columns], encoding="UTF-8").write_all(_fitting(features))
        (shapes / "README.txt").write_text(readme_text(about, [(names[c], c) for c in columns]), encoding="utf-8")
        bundle = folder / f"{about.name}.zip"
        with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(shapes.iterdir()):
                archive.write(part, part.name)
        return bundle
