"""KML (OGC 07-147r2), for Google Earth and for partners without GIS software.

Written with GDAL's KML driver, which writes the document as it goes, from one Arrow stream of
batches (LIBKML holds the whole document in memory: 8.3 s and 350 MB more for 68,000 cells, and
appending to it re-reads the file, 38 s in batches of 10,000; measured). The KML driver has no
place for a document description, so the README is put in as the <description> just after its
opening <Document> tag while the file is streamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa

from app.formats.base import About, Feature
from app.formats.gis_files import GisFileFormat, LayerWriter, file_pieces, readme_text

DOCUMENT_OPENING = b'<Document id="root_doc">'


def document_head(about: About) -> bytes:
    """The document's <name> and <description> (the README), as KML text."""
    return (f"<name>{escape(about.title)}</name>"
            f"<description>{escape(readme_text(about))}</description>").encode()


class KmlFormat(GisFileFormat):
    """KML placemarks with their fields as ExtendedData, and the README as the document's description."""

    name = "kml"
    media_type = "application/vnd.google-earth.kml+xml"
    extension = "kml"

    def write_file(self, folder: Path, features: Iterable[Feature], columns: Sequence[str], about: About) -> Path:
        path = folder / f"{about.name}.kml"
        LayerWriter(path, "KML", about.name, columns, integers=pa.int32()).write_all(features)
        return path

    def pieces(self, path: Path, about: About) -> Iterator[bytes]:
        return file_pieces(path, head=document_head(about), after=DOCUMENT_OPENING)
