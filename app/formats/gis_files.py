"""GIS files written with pyogrio (GDAL): the rows in batches, the field types read from the rows.

A GeoPackage is an SQLite database: SQLite writes pages wherever it needs them and goes back to
the first pages (the header, the page count, the tables' roots, the spatial index and the
layer's extent in ``gpkg_contents``) until the file is closed, so no byte of it is final before
the last row is in. A Shapefile's headers (record count, file length, extent) and a zip's central
directory are written last too. So a file is written whole into a temporary folder, then streamed
from disk in pieces, and the folder removed as soon as the download ends or is dropped.

Memory stays bounded by a batch: rows are read ``BATCH_ROWS`` at a time, turned into columns
(WKB geometries, numpy arrays) and appended to the layer (pyogrio's append mode). A field's type
is read from the rows: a column still empty after the first batch (every count hidden, say) is
held back, as columns, only until a value shows its type; one empty to the end is written as text.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely

from app.formats.base import About, Feature

CRS = "EPSG:4326"
BATCH_ROWS = 10_000
FILE_PIECE_BYTES = 1 << 20


def field_kind(values: Iterable[Any]) -> str | None:
    """The field type of a column's values: ``bool``, ``int``, ``float`` or ``text`` (None: all empty)."""
    kinds = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("bool")
        elif isinstance(value, (int, np.integer)):
            kinds.add("int")
        elif isinstance(value, (float, Decimal, np.floating)):
            kinds.add("float")
        else:
            return "text"
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    return "float" if kinds <= {"int", "float"} else "text"


def as_text(value: Any) -> str | None:
    """A value as a text field: dates in ISO 8601, lists and mappings as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


_ARRAY_TYPES = {"bool": np.bool_, "int": np.int64, "float": np.float64}


def field_array(values: list[Any], kind: str, integers: type = np.int64) -> tuple[np.ndarray, np.ndarray | None]:
    """The column as GDAL takes it, with a mask of the empty values (None where none is empty)."""
    empty = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if kind == "text":
        return np.array([as_text(v) for v in values], dtype=object), None
    filled = values if not empty.any() else [0 if v is None else v for v in values]
    array: np.ndarray = np.asarray(filled, dtype=integers if kind == "int" else _ARRAY_TYPES[kind])
    return array, (empty if empty.any() else None)


def wkb_of(geometry: dict[str, Any] | bytes | None) -> bytes | None:
    if geometry is None or isinstance(geometry, bytes):
        return geometry
    return shapely.to_wkb(shapely.geometry.shape(geometry))


def geometry_type(wkb: np.ndarray) -> tuple[str | None, bool]:
    """The layer's geometry type from a batch of WKB, and whether single parts must be made multi."""
    present = wkb[wkb != None]  # noqa: E711 (an element-wise test)
    if not len(present):
        return None, False
    names = set(shapely.get_type_id(shapely.from_wkb(present)).tolist())
    if len(names) == 1:
        return _GEOMETRY_NAMES.get(names.pop(), "Unknown"), False
    for single, multi in ((0, 4), (1, 5), (3, 6)):  # point, line, polygon and their multi kinds
        if names == {single, multi}:
            return _GEOMETRY_NAMES[multi], True
    return "Unknown", False


_GEOMETRY_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
                   6: "MultiPolygon", 7: "GeometryCollection"}


class LayerWriter:
    """Writes one layer of rows to ``path`` in batches (``append`` after the first)."""

    def __init__(self, path: Path, driver: str, layer: str, columns: Sequence[str],
                 field_names: Sequence[str] | None = None, *, encoding: str | None = None,
                 dataset_options: dict[str, str] | None = None, one_call: bool = False,
                 integers: type = np.int64) -> None:
        self.path, self.driver, self.layer = path, driver, layer
        self.one_call = one_call  # a driver that cannot append (KML): columns held, written at the end
        self.integers = integers  # KML writes 64-bit integers as text: it takes 32-bit ones
        self.columns = list(columns)
        self.field_names = list(field_names or columns)
        self.encoding, self.dataset_options = encoding, dataset_options
        self.kinds: dict[str, str | None] = dict.fromkeys(self.columns)
        self.geometry_type: str | None = None
        self.promote = False
        self.pending: list[tuple[np.ndarray, dict[str, list[Any]]]] = []
        self.written = 0

    def write_all(self, features: Iterable[Feature], batch_rows: int = BATCH_ROWS) -> int:
        """Every row, a batch at a time; returns how many were written."""
        rows = iter(features)
        while batch := list(islice(rows, batch_rows)):
            self.add(batch)
        self.finish()
        return self.written

    def add(self, batch: list[Feature]) -> None:
        wkb = np.array([wkb_of(f.geometry) for f in batch], dtype=object)
        values = {c: [f.properties.get(c) for f in batch] for c in self.columns}
        for column, kind in self.kinds.items():
            if kind is None:
                self.kinds[column] = field_kind(values[column])
        self.pending.append((wkb, values))
        if None not in self.kinds.values() and not self.one_call:
            self._flush()

    def finish(self) -> None:
        """Writes what is held back (a column empty to the end is text) and makes sure the layer exists."""
        for column, kind in self.kinds.items():
            if kind is None:
                self.kinds[column] = "text"
        if not self.pending and not self.written:
            self.pending.append((np.array([], dtype=object), {c: [] for c in self.columns}))
        self._flush()

    def _flush(self) -> None:
        if self.one_call and len(self.pending) > 1:
            self.pending = [(np.concatenate([wkb for wkb, _ in self.pending]),
                             {c: [v for _, values in self.pending for v in values[c]] for c in self.columns})]
        for wkb, values in self.pending:
            self._write(wkb, values)
        self.pending = []

    def _write(self, wkb: np.ndarray, values: dict[str, list[Any]]) -> None:
        if self.written == 0 and self.geometry_type is None:
            self.geometry_type, self.promote = geometry_type(wkb)
        arrays, masks = [], []
        for column in self.columns:
            array, mask = field_array(values[column], self.kinds[column] or "text", self.integers)
            arrays.append(array)
            masks.append(mask)
        pyogrio.raw.write(
            self.path, wkb if self.geometry_type else None, arrays, self.field_names,
            field_mask=masks if any(m is not None for m in masks) else None, layer=self.layer,
            driver=self.driver, geometry_type=self.geometry_type, crs=CRS if self.geometry_type else None,
            encoding=self.encoding, promote_to_multi=self.promote or None, append=self.written > 0,
            dataset_options=None if self.written else self.dataset_options,
        )
        self.written += len(wkb)


def file_pieces(path: Path, head: bytes = b"", after: bytes = b"") -> Iterator[bytes]:
    """The file's bytes in pieces of about a megabyte (``head`` inserted just after the bytes ``after``
    at the start, for a KML document's description)."""
    with path.open("rb") as file:
        first = file.read(FILE_PIECE_BYTES)
        if head:
            at = first.index(after) + len(after)
            first = first[:at] + head + first[at:]
        yield first
        while piece := file.read(FILE_PIECE_BYTES):
            yield piece


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder for one file while it is written and sent (removed when the download ends)."""
    return tempfile.TemporaryDirectory(prefix="hotspots-export-")


def readme_text(about: About, fields: Sequence[tuple[str, str]] = ()) -> str:
    """The README of a file: its topics, then (Shapefile) each field's short name beside its full name."""
    lines = [f"{topic.capitalize()}: {text}" for topic, text in about.lines() if text]
    if fields:
        lines += ["", "Fields (Shapefile names are at most 10 characters; the full name beside each):"]
        lines += [f"  {short:<10}  {full}" for short, full in fields]
    return "\n".join(lines) + "\n"


def default_about(about: About | None) -> About:
    return about or About(name="export", title="Exported features")
