"""What every output format shares: the row it writes (``Feature``) and what a formatter declares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Feature:
    """One row of an output, already shaped for its audience (privacy tier applied).

    Every row of one output has the same shape: the same property names, and a geometry or
    none: a GeoJSON geometry object, or WKB bytes as the database holds them (GIS files write
    WKB as it is; GeoJSON reads it). Formats with a fixed schema (CSV, GeoPackage, Shapefile,
    KML) take their field order from the caller's ``columns``.
    """

    properties: dict[str, Any]
    geometry: dict[str, Any] | bytes | None = None
    id: Any = None


@dataclass(frozen=True)
class About:
    """What a file says about itself, where its format has room for it (a GeoPackage's ``readme``
    table, a Shapefile's README.txt, a KML document's description): a name, the run's provenance
    and the privacy tier applied. Formats for pages and tables (GeoJSON, CSV) do not carry it."""

    name: str              # the file's stem and its layer's name, e.g. "hotspot-run-12-cells"
    title: str             # what the file holds, in words
    provenance: str = ""   # the run's provenance line (or where the figures come from)
    privacy: str = ""      # the privacy tier applied: what was suppressed, and why

    def lines(self) -> list[tuple[str, str]]:
        """(topic, text) pairs, in reading order."""
        return [("title", self.title), ("provenance", self.provenance), ("privacy", self.privacy),
                ("coordinates", "WGS 84 longitude/latitude (EPSG:4326)")]


class Formatter(Protocol):
    """An output format: a name for ``?format=``, how a download is served, and a streaming writer."""

    name: str             # the value of the ``format`` query parameter
    media_type: str       # Content-Type of a download
    extension: str        # file name extension of a download, without the dot
    uses_geometry: bool   # whether it writes geometry (routes whose rows have none do not offer it)

    def write(self, features: Iterable[Feature], columns: Sequence[str],
              members: Mapping[str, Any] | None = None, about: About | None = None) -> Iterator[bytes]:
        """The output in pieces, reading ``features`` as it goes (never all held at once).

        ``columns``: the field order for formats with a fixed schema. ``members``: top-level members
        a collection document carries after its features (``numberReturned``, ``next``); a table
        format has no place for them and ignores them. ``about``: the file's README (GIS files).
        """
        ...
