"""Output formats: one formatter per format, looked up by the name a client gives in ``?format=``.

A new format (GeoPackage, zipped Shapefile, KML) is one module with a class that satisfies
``Formatter`` and one line in ``FORMATS``; every export route then offers it, and the OpenAPI
document lists it, wherever its rows fit (``uses_geometry``).
"""

from __future__ import annotations

from app.formats.base import Feature, Formatter
from app.formats.csv_table import CsvFormat
from app.formats.geojson import GeoJsonFormat

# In the order the OpenAPI document lists them.
FORMATS: dict[str, Formatter] = {f.name: f for f in (GeoJsonFormat(), CsvFormat())}


def formatter(name: str) -> Formatter:
    """The formatter called ``name`` (a name the ``format`` parameter already validated)."""
    return FORMATS[name]


def format_names(*, geometry: bool = True) -> tuple[str, ...]:
    """Names of the formats for rows with a geometry, or (``geometry=False``) for rows without one."""
    return tuple(name for name, found in FORMATS.items() if geometry or not found.uses_geometry)


__all__ = ["FORMATS", "Feature", "Formatter", "format_names", "formatter"]
