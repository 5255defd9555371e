"""What every output format shares: the row it writes (``Feature``) and what a formatter declares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Feature:
    """One row of an output, already shaped for its audience (privacy tier applied).

    Every row of one output has the same shape: the same property names, and a geometry
    (a GeoJSON geometry object) or none. Formats with a fixed schema (CSV; GeoPackage and
    Shapefile next) take their field order from the caller's ``columns``.
    """

    properties: dict[str, Any]
    geometry: dict[str, Any] | None = None
    id: Any = None


class Formatter(Protocol):
    """An output format: a name for ``?format=``, how a download is served, and a streaming writer."""

    name: str             # the value of the ``format`` query parameter
    media_type: str       # Content-Type of a download
    extension: str        # file name extension of a download, without the dot
    uses_geometry: bool   # whether it writes geometry (routes whose rows have none do not offer it)

    def write(self, features: Iterable[Feature], columns: Sequence[str],
              members: Mapping[str, Any] | None = None) -> Iterator[bytes]:
        """The output in pieces, reading ``features`` as it goes (never all held at once).

        ``columns``: the field order for formats with a fixed schema. ``members``: top-level members
        a collection document carries after its features (``numberReturned``, ``next``); a table
        format has no place for them and ignores them.
        """
        ...
