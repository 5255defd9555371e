"""GeoPackage (OGC 12-128r18): the rows as one layer, and a non-spatial ``readme`` table beside it.

Written whole to a temporary file and then streamed (app/formats/gis_files.py says why a GeoPackage
cannot be streamed while it is written); the layer is written in batches, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
import numpy as np
import pyogrio.raw

from app.formats.base import About, Feature
from app.formats.gis_files import GisFileFormat, LayerWriter

README_LAYER = "readme"


def write_readme_table(path: Path, about: About) -> None:
    """The ``readme`` table (no geometry): one row per topic, ``topic`` and ``text``."""
    topics = about.lines()
    pyogrio.raw.write(path, None, [np.array([t for t, _ in topics], dtype=object),
                                   np.array([text for _, text in topics], dtype=object)],
                      ["topic", "text"], layer=README_LAYER, driver="GPKG", append=True)


def write_geopackage(path: Path, features: Iterable[Feature], columns: Sequence[str], about: About) -> int:
    """The layer ``about.name`` (EPSG:4326) and the ``readme`` table; returns the rows written."""
    written = LayerWriter(path, "GPKG", about.name, columns).write_all(features)
    write_readme_table(path, about)
    return written


class GeoPackageFormat(GisFileFormat):
    """A GeoPackage: one layer of the rows, and a ``readme`` table with provenance and privacy tier."""

    name = "gpkg"
    media_type = "application/geopackage+sqlite3"
    extension = "gpkg"

    def write_file(self, folder: Path, features: Iterable[Feature], columns: Sequence[str], about: About) -> Path:
        path = folder / f"{about.name}.gpkg"
        write_geopackage(path, features, columns, about)
        return path
