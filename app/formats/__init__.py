"""Output formats: one formatter per format, looked up by the name a client gives in ``?format=``.

A new format (GeoPackage, zipped Shapefile, KML) is one module with a class that satisfies
``Formatter`` and one line in ``FORMATS``; every export route then offers it, and the OpenAPI
document lists it, wherever its rows fit (``uses_geometry``).
"""

from __future__ import annotations

from app.formats.base import About, Feature, Formatter
from app.formats.csv_table import CsvFormat
from app.formats.geojson import GeoJsonFormat
from app.formats.geopackage import GeoPackageFormat
from app.formats.kml import KmlFormat
from app.formats.shapefile import ShapefileFormat

# In the order the OpenAPI document lists them.
FORMATS: dict[str, Formatter] = {f.name: f for f in (GeoJsonFormat(), CsvFormat(), GeoPackageFormat(),
                                                     ShapefileFormat(), KmlFormat())}
# Other names a client may give for a format.
ALIASES = {"shapefile": "shp"}


def formatter(name: str) -> Formatter:
    """The formatter called ``name`` or one of its aliases (a name the ``format`` parameter validated)."""
    return FORMATS[ALIASES.get(name, name)]


def format_names(*, geometry: bool = True) -> tuple[str, ...]:
    """Names of the formats for rows with a geometry, or (``geometry=False``) for rows without one."""
    return tuple(name for name, found in FORMATS.items() if geometry or not found.uses_geometry)


def accepted_names(*, geometry: bool = True) -> tuple[str, ...]:
    """``format_names`` and the aliases of those formats (what ``?format=`` accepts)."""
    names = format_names(geometry=geometry)
    return names + tuple(alias for alias, name in ALIASES.items() if name in names)


__all__ = ["ALIASES", "FORMATS", "About", "Feature", "Formatter", "accepted_names", "format_names", "formatter"]
