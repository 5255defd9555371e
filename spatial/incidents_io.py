"""Read incident files (CSV, GeoJSON, Shapefile, GeoPackage) into validated batches.

Each batch is columnar (numpy / pandas) so a million rows never become a
million Python objects: coordinates and dates are checked with vectorised
operations and every bad row is rejected with its row number and a reason.

Row numbers follow the spreadsheet convention: the header is row 1, so the
first incident is row 2. For GeoJSON, Shapefile and GeoPackage input the row
number is the feature number, starting at 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from h3.api import basic_int as h3

from spatial.column_choice import ColumnChoice, ColumnMapping, choose_columns
from spatial.row_identity import RowIdentity, repeats_another_row, row_hashes

__all__ = ["ColumnMapping", "FileReading", "ReadOptions", "read_incident_file", "repeats_another_row", "row_hashes"]
from spatial.csv_format import CsvFormat, sniff_csv
from spatial.errors import InvalidUpload
from spatial.file_guard import check_before_gdal, check_feature_count
from spatial.incident_dates import NUMERIC_PREFIX, DateOrder, date_notes, infer_date_order, parse_dates
from spatial.row_checks import check_labels, refuse_if_swapped

TABULAR_SUFFIXES = {".csv", ".txt", ".tsv"}
GEO_SUFFIXES = {".geojson", ".json", ".shp", ".gpkg"}
# Rows looked at to choose columns by content.
SAMPLE_ROWS = 2000
# Rows of the file shown as they would be stored, in a dry run's report.
PREVIEW_ROWS = 10


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file; every column choice overrides the detection."""

    columns: dict[str, str] = field(default_factory=dict)
    timezone: ZoneInfo = ZoneInfo("America/St_Kitts")
    # None: decide day/month order from the whole column (and date_order when it cannot tell).
    day_first: bool | None = None
    # The service's HOTSPOTS_DATE_ORDER: "day-first", "month-first" or None.
    date_order: str | None = None
    service_area: tuple[float, float, float, float] | None = None
    chunk_rows: int = 50_000
    h3_resolution: int = 15
    now: datetime | None = None
    layer: str | None = None
    max_features: int = 5_000_000  # points in one GeoJSON, Shapefile or GeoPackage


@dataclass
class Rejection:
    row: int
    reason: str


@dataclass
class IncidentBatch:
    """Valid incidents of one chunk, as parallel arrays."""

    rows: np.ndarray
    external_id: np.ndarray
    occurred_at: pd.Series
    reported_at: pd.Series | None
    category: np.ndarray | None
    description: np.ndarray | None
    lon: np.ndarray
    lat: np.ndarray
    h3_cell: np.ndarray
    attributes: list[str] | None

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Chunk:
    batch: IncidentBatch
    rejections: list[Rejection]
    rows_read: int
    progress: float  # fraction of the file read so far, 0..1


@dataclass
class FileReading:
    """What was decided about a file before its rows are read, and what reading them noticed."""

    choice: ColumnChoice
    date_order: DateOrder
    decimal_comma: bool = False
    date_notes: Counter[str] = field(default_factory=Counter)
    decimal_comma_values: int = 0

    @property
    def mapping(self) -> ColumnMapping:
        return self.choice.mapping

    def warnings(self) -> list[str]:
        """What was assumed while reading, for the report: never silent."""
        notes = date_notes(self.date_notes)
        if self.date_order.assumed:
            notes.append(f"{self.date_order.assumed:,} dates could be day/month or month/day and were read as "
                         f"{self.date_order.label} (the service's HOTSPOTS_DATE_ORDER)")
        if self.decimal_comma_values:
            notes.append(f"{self.decimal_comma_values:,} coordinates written with a decimal comma were read "
                         "(e.g. 17,3 as 17.3)")
        return notes


def read_incident_file(path: Path, options: ReadOptions) -> tuple[FileReading, Iterator[Chunk]]:
    """Open an incident file and return what was decided about it and a chunk iterator.

    The columns (by name and a sample's content) and the order of day and month
    (from every date of the file) are worked out before any row is validated, so
    a file that cannot be read safely is refused before anything is written.
    """
    suffix = path.suffix.lower()
    if suffix in TABULAR_SUFFIXES:
        return _read_csv(path, options)
    if suffix in GEO_SUFFIXES:
        return _read_geo(path, options)
    raise InvalidUpload(
        f"Files of type {suffix or '(no extension)'} cannot be imported. "
        "Use CSV, GeoJSON, a zipped Shapefile or a GeoPackage."
    )


def _read_csv(path: Path, options: ReadOptions) -> tuple[FileReading, Iterator[Chunk]]:
    fmt = sniff_csv(path)
    header = _csv_header(path, fmt)
    decimal_comma = fmt.delimiter in (";", "\t")
    read = {"dtype": str, "keep_default_na": False, "encoding": fmt.encoding, "encoding_errors": "replace",
            "sep": fmt.delimiter, "skip_blank_lines": True}
    sample = _csv_sample(path, read)
    choice = choose_columns(header, sample, options.columns, decimal_comma=decimal_comma)
    mapping = choice.mapping

    def date_columns() -> Iterator[tuple[np.ndarray, pd.Series]]:
        first_row = 2
        with _malformed_csv_refused(lambda: first_row):
            for frame in pd.read_csv(path, usecols=lambda c: str(c).strip() == mapping.occurred_at,
                                     chunksize=options.chunk_rows, **read):
                yield np.arange(first_row, first_row + len(frame)), frame.iloc[:, 0]
                first_row += len(frame)

    reading = FileReading(choice, _csv_date_order(sample, mapping, date_columns, options), decimal_comma=decimal_comma)
    size = max(path.stat().st_size, 1)

    def chunks() -> Iterator[Chunk]:
        identity = RowIdentity()
        first_row = 2
        with path.open("rb") as handle, _malformed_csv_refused(lambda: first_row):
            for frame in pd.read_csv(handle, chunksize=options.chunk_rows, on_bad_lines="error", **read):
                frame.columns = [str(c).strip() for c in frame.columns]
                rows = np.arange(first_row, first_row + len(frame))
                first_row += len(frame)
                lat = _to_float(frame[mapping.latitude], reading)
                lon = _to_float(frame[mapping.longitude], reading)
                yield _validate(frame, rows, reading, identity, lon, lat, options, min(handle.tell() / size, 1.0))

    return reading, chunks()


def _csv_date_order(sample: pd.DataFrame | None, mapping: ColumnMapping, date_columns, options: ReadOptions
                    ) -> DateOrder:
    """The order of day and month, from every date of the file.

    The sample is the whole file when it is short. When the first rows hold no
    day/month date at all (ISO files, the common case), the file is not read a
    second time: a later day/month date is then read only if it proves its own
    order (25/03), and an ambiguous one is rejected with its row, never guessed.
    """
    if sample is not None and mapping.occurred_at in sample.columns and options.day_first is None:
        dates = sample[mapping.occurred_at]
        if len(sample) < SAMPLE_ROWS:
            return _date_order(iter([(np.arange(2, len(sample) + 2), dates)]), options)
        if not dates.astype(str).str.strip().str.match(NUMERIC_PREFIX).any():
            return DateOrder(None, f"no day/month dates in the first {SAMPLE_ROWS:,} rows (a later ambiguous "
                                   "one is rejected, never guessed)")
    return _date_order(date_columns(), options)


def _date_order(columns: Iterator[tuple[np.ndarray, pd.Series]], options: ReadOptions) -> DateOrder:
    return infer_date_order(columns, day_first=options.day_first, configured=options.date_order)


def _csv_sample(path: Path, read: dict) -> pd.DataFrame | None:
    try:
        sample = pd.read_csv(path, nrows=SAMPLE_ROWS, on_bad_lines="skip", **read)
    except (pd.errors.ParserError, UnicodeError, pd.errors.EmptyDataError):
        return None  # judged by names; the full read below reports what is wrong, with the row
    sample.columns = [str(c).strip() for c in sample.columns]
    return sample


class _malformed_csv_refused:
    """Turn pandas' parser errors into a clerk's message naming the last good row."""

    def __init__(self, last_row) -> None:
        self._last_row = last_row

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> None:
        if isinstance(exc, (pd.errors.ParserError, UnicodeError)):
            raise InvalidUpload(
                f"The CSV file is malformed after row {self._last_row() - 1} ({_first_line(exc)}). Check that every "
                "row has the same number of columns and that quotes are closed. Nothing was imported."
            ) from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _csv_header(path: Path, fmt: CsvFormat) -> list[str]:
    try:
        frame = pd.read_csv(path, dtype=str, nrows=0, encoding=fmt.encoding, encoding_errors="replace",
                            sep=fmt.delimiter)
    except pd.errors.EmptyDataError as exc:
        raise InvalidUpload("The CSV file is empty: it has no header row.") from exc
    except (pd.errors.ParserError, UnicodeError) as exc:
        raise InvalidUpload(f"The CSV file's header cannot be read: {_first_line(exc)}.") from exc
    columns = [str(c).strip() for c in frame.columns]
    if len(columns) < 2:
        raise InvalidUpload(
            "The CSV file has fewer than two columns. Check that it is a CSV file with a header row "
            f"(the header read was {columns!r})."
        )
    return columns


def _read_geo(path: Path, options: ReadOptions) -> tuple[FileReading, Iterator[Chunk]]:
    import pyogrio  # imported here: only geo formats need GDAL

    check_before_gdal(path, path.name)
    try:
        info = pyogrio.read_info(path, layer=options.layer)
    except Exception as exc:  # GDAL raises several types for unreadable files
        raise InvalidUpload(f"The file could not be read as a {path.suffix} file: {_gdal_reason(exc)}.") from exc
    check_feature_count(info.get("features"), options.max_features, path.name, "incidents")
    columns = [str(c) for c in info["fields"]]
    if info.get("geometry_type") not in (None, "Point", "MultiPoint", "Unknown", "Point Z", "MultiPoint Z"):
        raise InvalidUpload(f"The file holds {info['geometry_type']} features; incidents must be points.")
    if info.get("crs") is None and path.suffix.lower() == ".shp":
        raise InvalidUpload("The shapefile has no .prj file, so its coordinate system is unknown. Export it again with the .prj.")
    sample = _as_text(pyogrio.read_dataframe(path, layer=options.layer, max_features=SAMPLE_ROWS,
                                             read_geometry=False)) if columns else None
    choice = choose_columns(columns + ["__geometry_x", "__geometry_y"], sample, {
        "latitude": "__geometry_y", "longitude": "__geometry_x", **options.columns,
    })
    choice.reasons["latitude"] = choice.reasons["longitude"] = "the features' point geometry"
    mapping = choice.mapping
    total = max(int(info.get("features") or 0), 1)

    def date_columns() -> Iterator[tuple[np.ndarray, pd.Series]]:
        dates = _as_text(pyogrio.read_dataframe(path, layer=options.layer, columns=[mapping.occurred_at],
                                                read_geometry=False))
        yield np.arange(1, len(dates) + 1), dates[mapping.occurred_at]

    reading = FileReading(choice, _date_order(date_columns(), options))

    def chunks() -> Iterator[Chunk]:
        identity = RowIdentity()
        offset = 0
        while True:
            frame = pyogrio.read_dataframe(
                path, layer=options.layer, skip_features=offset, max_features=options.chunk_rows,
            )
            if len(frame) == 0:
                return
            rows = np.arange(offset + 1, offset + 1 + len(frame))
            offset += len(frame)
            frame = _points_to_lonlat(frame)
            attributes = _as_text(frame.drop(columns="geometry"))
            lat = frame["__geometry_y"].to_numpy(dtype=float)
            lon = frame["__geometry_x"].to_numpy(dtype=float)
            yield _validate(attributes, rows, reading, identity, lon, lat, options, min(offset / total, 1.0))
            if len(frame) < options.chunk_rows:
                return

    return reading, chunks()


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), "").astype(str)


def _points_to_lonlat(frame: pd.DataFrame) -> pd.DataFrame:
    import shapely

    geometry = frame.geometry
    if geometry.crs is not None and not geometry.crs.equals("EPSG:4326"):
        geometry = geometry.to_crs("EPSG:4326")
    points = geometry.values
    kinds = shapely.get_type_id(points)
    # A one-point MultiPoint is a point; anything else has no single location.
    single = shapely.get_num_geometries(points) == 1
    points = np.where((kinds == 4) & single, shapely.get_geometry(points, 0), points)
    is_point = shapely.get_type_id(points) == 0
    x = np.where(is_point, shapely.get_x(np.where(is_point, points, None)), np.nan)
    y = np.where(is_point, shapely.get_y(np.where(is_point, points, None)), np.nan)
    frame = frame.copy()
    frame["__geometry_x"] = x.astype(float)
    frame["__geometry_y"] = y.astype(float)
    return frame


def _gdal_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _to_float(values: pd.Series, reading: FileReading) -> np.ndarray:
    values = values.str.strip()
    if reading.decimal_comma:
        # With ';' or tab between fields, "17,3" is a decimal comma (Caribbean and European exports).
        comma = values.str.contains(",", regex=False) & ~values.str.contains(".", regex=False)
        if comma.any():
            reading.decimal_comma_values += int(comma.sum())
            values = values.where(~comma, values.str.replace(",", ".", regex=False))
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _validate(
    frame: pd.DataFrame,
    rows: np.ndarray,
    reading: FileReading,
    identity: RowIdentity,
    lon: np.ndarray,
    lat: np.ndarray,
    options: ReadOptions,
    progress: float,
) -> Chunk:
    mapping = reading.mapping
    external_ids = identity.external_ids(frame, mapping)
    reasons = np.full(len(frame), None, dtype=object)
    _check_coordinates(frame, mapping, lon, lat, options, reasons)
    when = frame[mapping.occurred_at]
    if mapping.occurred_time:
        when = when.str.strip() + " " + frame[mapping.occurred_time].str.strip()
    day_first = reading.date_order.day_first
    occurred, date_reasons = parse_dates(when, zone=options.timezone, day_first=day_first, now=options.now,
                                         notes=reading.date_notes)
    _merge_reasons(reasons, date_reasons)
    check_labels(frame, [("id", mapping.external_id), ("category", mapping.category)], reasons)
    reported = None
    if mapping.reported_at:
        reported, _ = parse_dates(frame[mapping.reported_at], zone=options.timezone, day_first=day_first,
                                  now=options.now)
    keep = np.array([r is None for r in reasons], dtype=bool)
    rejections = [Rejection(int(rows[i]), str(reasons[i])) for i in np.flatnonzero(~keep)]
    kept = frame[keep]
    batch = IncidentBatch(
        rows=rows[keep],
        external_id=external_ids[keep],
        occurred_at=occurred[keep].reset_index(drop=True),
        reported_at=reported[keep].reset_index(drop=True) if reported is not None else None,
        category=_text(kept, mapping.category),
        description=_text(kept, mapping.description),
        lon=lon[keep],
        lat=lat[keep],
        h3_cell=cells_for(lat[keep], lon[keep], options.h3_resolution),
        attributes=_attributes(kept, mapping),
    )
    return Chunk(batch=batch, rejections=rejections, rows_read=len(frame), progress=progress)


def _merge_reasons(reasons: np.ndarray, more: np.ndarray) -> None:
    empty = np.array([r is None for r in reasons], dtype=bool)
    reasons[empty] = more[empty]


def _check_coordinates(frame, mapping, lon, lat, options, reasons) -> None:
    def mark(mask: np.ndarray, make_reason) -> None:
        for i in np.flatnonzero(mask & np.array([r is None for r in reasons], dtype=bool)):
            reasons[i] = make_reason(i)

    from_geometry = mapping.latitude.startswith("__geometry") or mapping.longitude.startswith("__geometry")
    if not from_geometry:
        raw_lat = frame[mapping.latitude].str.strip()
        raw_lon = frame[mapping.longitude].str.strip()
        blank = ((raw_lat == "") | (raw_lon == "")).to_numpy()
        mark(blank, lambda i: "missing coordinates (latitude or longitude is empty)")
        unreadable = ~blank & (np.isnan(lat) | np.isnan(lon))
        mark(unreadable, lambda i: f"coordinates are not numbers: latitude {raw_lat.iat[i]!r}, longitude {raw_lon.iat[i]!r}")
    else:
        mark(np.isnan(lat) | np.isnan(lon), lambda i: "missing location (the feature has no point geometry)")
    mark(np.isinf(lat) | np.isinf(lon), lambda i: "coordinates are not finite numbers")
    with np.errstate(invalid="ignore"):
        mark(np.abs(lat) > 90, lambda i: f"latitude {lat[i]} is out of range (-90 to 90)")
        mark(np.abs(lon) > 180, lambda i: f"longitude {lon[i]} is out of range (-180 to 180)")
        mark((lat == 0) & (lon == 0), lambda i: "coordinates are 0,0, which usually means a missing location")
        if options.service_area is not None:
            west, south, east, north = options.service_area
            outside = (lon < west) | (lon > east) | (lat < south) | (lat > north)
            swapped_inside = ~((lat < west) | (lat > east) | (lon < south) | (lon > north))
            usable = np.array([r is None for r in reasons], dtype=bool)
            refuse_if_swapped(int((outside & usable).sum()), int((swapped_inside & usable).sum()),
                              int(usable.sum()), "the service area")
            mark(outside, lambda i: f"location {lat[i]:.6f},{lon[i]:.6f} is outside the service area")


def cells_for(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell of each point as signed int64 (H3's reserved top bit is always 0)."""
    return np.fromiter(
        (h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist())),
        dtype=np.int64, count=len(lat),
    )


def _text(frame: pd.DataFrame, column: str | None) -> np.ndarray | None:
    if not column:
        return None
    values = frame[column].astype(str).str.strip()
    return values.where(values != "", None).to_numpy(dtype=object, na_value=None)


def preview_rows(batch: IncidentBatch, limit: int = PREVIEW_ROWS) -> list[dict[str, object]]:
    """The first rows of a batch as they would be stored (a dry run's report)."""
    n = min(len(batch), limit)
    return [{
        "row": int(batch.rows[i]),
        "external_id": str(batch.external_id[i]),
        "occurred_at": batch.occurred_at.iat[i].isoformat(),
        "category": None if batch.category is None else batch.category[i],
        "description": None if batch.description is None else batch.description[i],
        "lon": float(batch.lon[i]),
        "lat": float(batch.lat[i]),
    } for i in range(n)]


def _attributes(frame: pd.DataFrame, mapping: ColumnMapping) -> list[str] | None:
    """The columns not mapped to a field, as one JSON object per row."""
    extra = [c for c in frame.columns if c not in mapping.mapped() and not str(c).startswith("__geometry")]
    if not extra or len(frame) == 0:
        return None
    values = frame[extra].replace("", None)
    # split on "\n" only: JSON escapes newlines inside strings, but str.splitlines
    # would also break on U+2028 left raw by force_ascii=False.
    lines = values.to_json(orient="records", lines=True, force_ascii=False).split("\n")
    return lines[: len(values)]
