"""GeoJSON: a FeatureCollection written feature by feature.

The JSON is written as the API's own responses are (compact separators, UTF-8 text rather than
``\\u`` escapes, no NaN), so a page written here is byte for byte what FastAPI would have sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import shapely

from app.formats.base import About, Feature

CHUNK_BYTES = 64_000


def _plain(value: Any) -> Any:
    """JSON for the values a database row may hold beyond JSON's own (as FastAPI encodes them)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)  # type: ignore[operator]
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_plain)


def feature_object(feature: Feature) -> dict[str, Any]:
    """A GeoJSON Feature object (``id`` only when the row has one)."""
    found: dict[str, Any] = {"type": "Feature"}
    if feature.id is not None:
        found["id"] = feature.id
    geometry = feature.geometry
    if isinstance(geometry, bytes):
        geometry = json.loads(shapely.to_geojson(shapely.from_wkb(geometry)))
    found.update(geometry=geometry, properties=feature.properties)
    return found


class GeoJsonFormat:
    """A GeoJSON FeatureCollection; each row's properties as given (``columns`` does not filter them)."""

    name = "geojson"
    media_type = "application/geo+json"
    extension = "geojson"
    uses_geometry = True

    def write(self, features: Iterable[Feature], columns: Sequence[str],
              members: Mapping[str, Any] | None = None, about: About | None = None) -> Iterator[bytes]:
        """The collection, then ``members`` after its features (``numberReturned``, ``next``, ``links``)."""
        pending = ['{"type":"FeatureCollection","features":[']
        size = 0
        for number, feature in enumerate(features):
            text = dumps(feature_object(feature))
            pending.append("," + text if number else text)
            size += len(text)
            if size > CHUNK_BYTES:
                yield "".join(pending).encode("utf-8")
                pending, size = [], 0
        pending.append("]")
        for key, value in (members or {}).items():
            pending.append(f",{dumps(key)}:{dumps(value)}")
        pending.append("}")
        yield "".join(pending).encode("utf-8")
