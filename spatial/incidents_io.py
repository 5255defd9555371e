"""Read incident files (CSV, GeoJSON, Shapefile, GeoPackage) into validated batches.

Each batch is columnar (numpy / pandas) so a million rows never become a
million Python objects: coordinates and dates are checked with vectorised
operations and every bad row is rejected with its row number and a reason.

Row numbers follow the spreadsheet convention: the header is row 1, so the
first incident is row 2. For GeoJSON, Shapefile and GeoPackage input the row
number is the feature number, starting at 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from h3.api import basic_int as h3

from spatial.csv_format import CsvFormat, sniff_csv
from spatial.errors import InvalidUpload
from spatial.file_guard import check_before_gdal, check_feature_count
from spatial.row_checks import check_labels, refuse_if_swapped
from spatial.incident_dates import parse_dates

# Common names for each field, in order of preference (matched case-insensitively).
COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "latitude": ("latitude", "lat", "y"),
    "longitude": ("longitude", "lon", "lng", "long", "x"),
    "occurred_at": ("occurred_at", "date", "datetime", "date_time", "occurred", "incident_date", "time"),
    "category": ("category", "primary_type", "type", "offense", "offence", "crime_type"),
    "external_id": ("id", "case_number", "incidntnum", "incident_id", "incident_number", "case_id"),
    "description": ("description", "descript", "details"),
    "reported_at": ("reported_at", "report_date", "reported"),
}
REQUIRED = ("latitude", "longitude", "occurred_at")
FIELD_LABELS = {"latitude": "latitude", "longitude": "longitude", "occurred_at": "date"}
TABULAR_SUFFIXES = {".csv", ".txt", ".tsv"}
GEO_SUFFIXES = {".geojson", ".json", ".shp", ".gpkg"}


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file holds each incident field (``None``: absent)."""

    latitude: str | None
    longitude: str | None
    occurred_at: str
    category: str | None = None
    external_id: str | None = None
    description: str | None = None
    reported_at: str | None = None

    def mapped(self) -> set[str]:
        return {c for c in vars(self).values() if c}


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file; every column choice overrides the detection."""

    columns: dict[str, str] = field(default_factory=dict)
    timezone: ZoneInfo = ZoneInfo("America/St_Kitts")
    day_first: bool = False
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


def detect_columns(columns: list[str], overrides: dict[str, str] | None = None) -> ColumnMapping:
    """Match the file's columns to incident fields.

    Raises
    ------
    InvalidUpload
        When a chosen column does not exist or a required field is not found;
        the message lists the columns the file has.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    unknown_fields = set(overrides) - set(COLUMN_CANDIDATES)
    if unknown_fields:
        raise InvalidUpload(f"Unknown field(s) to map: {', '.join(sorted(unknown_fields))}.")
    by_lower = {c.lower().strip(): c for c in columns}
    chosen: dict[str, str | None] = {}
    for name, candidates in COLUMN_CANDIDATES.items():
        if name in overrides:
            if overrides[name] not in columns:
                raise InvalidUpload(
                    f"The column {overrides[name]!r} chosen for {name} is not in the file. "
                    f"The file's columns are: {', '.join(columns)}.",
                    details={"columns": columns},
                )
            chosen[name] = overrides[name]
            continue
        chosen[name] = next((by_lower[c] for c in candidates if c in by_lower), None)
    missing = [n for n in REQUIRED if not chosen[n]]
    if missing:
        labels = " and ".join(FIELD_LABELS[m] for m in missing)
        raise InvalidUpload(
            f"Could not find the {labels} column in the file. Name the column(s) explicitly "
            f"(for example --{missing[0].replace('_', '-')}-column). The file's columns are: {', '.join(columns)}.",
            details={"columns": columns, "missing": missing},
        )
    return ColumnMapping(**chosen)


def read_incident_file(path: Path, options: ReadOptions) -> tuple[ColumnMapping, Iterator[Chunk]]:
    """Open an incident file and return its column mapping and a chunk iterator.

    The mapping is worked out before any row is read, so a file with no usable
    columns is refused before anything is written.
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


def _read_csv(path: Path, options: ReadOptions) -> tuple[ColumnMapping, Iterator[Chunk]]:
    fmt = sniff_csv(path)
    header = _csv_header(path, fmt)
    mapping = detect_columns(header, options.columns)
    size = max(path.stat().st_size, 1)

    def chunks() -> Iterator[Chunk]:
        with path.open("rb") as handle:
            reader = pd.read_csv(
                handle, dtype=str, keep_default_na=False, chunksize=options.chunk_rows,
                encoding=fmt.encoding, encoding_errors="replace", on_bad_lines="error",
                sep=fmt.delimiter, skip_blank_lines=True,
            )
            first_row = 2
            try:
                for frame in reader:
                    frame.columns = [str(c).strip() for c in frame.columns]
                    rows = np.arange(first_row, first_row + len(frame))
                    first_row += len(frame)
                    lat = _to_float(frame[mapping.latitude])
                    lon = _to_float(frame[mapping.longitude])
                    yield _validate(frame, rows, mapping, lon, lat, options, min(handle.tell() / size, 1.0))
            except (pd.errors.ParserError, UnicodeError) as exc:
                raise InvalidUpload(
                    f"The CSV file is malformed after row {first_row - 1} ({_first_line(exc)}). Check that every "
                    "row has the same number of columns and that quotes are closed. Nothing was imported."
                ) from exc

    return mapping, chunks()


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


def _read_geo(path: Path, options: ReadOptions) -> tuple[ColumnMapping, Iterator[Chunk]]:
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
    mapping = detect_columns(columns + ["__geometry_x", "__geometry_y"], {
        "latitude": "__geometry_y", "longitude": "__geometry_x", **options.columns,
    })
    total = max(int(info.get("features") or 0), 1)

    def chunks() -> Iterator[Chunk]:
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
            attributes = frame.drop(columns="geometry")
            attributes = attributes.astype(object).where(attributes.notna(), "").astype(str)
            lat = frame["__geometry_y"].to_numpy(dtype=float)
            lon = frame["__geometry_x"].to_numpy(dtype=float)
            yield _validate(attributes, rows, mapping, lon, lat, options, min(offset / total, 1.0))
            if len(frame) < options.chunk_rows:
                return

    return mapping, chunks()


def _points_to_lonlat(frame: "pd.DataFrame") -> "pd.DataFrame":
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


def _to_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.str.strip(), errors="coerce").to_numpy(dtype=float)


def _validate(
    frame: pd.DataFrame,
    rows: np.ndarray,
    mapping: ColumnMapping,
    lon: np.ndarray,
    lat: np.ndarray,
    options: ReadOptions,
    progress: float,
) -> Chunk:
    reasons = np.full(len(frame), None, dtype=object)
    _check_coordinates(frame, mapping, lon, lat, options, reasons)
    occurred, date_reasons = parse_dates(frame[mapping.occurred_at], zone=options.timezone,
                                         day_first=options.day_first, now=options.now)
    _merge_reasons(reasons, date_reasons)
    check_labels(frame, [("id", mapping.external_id), ("category", mapping.category)], reasons)
    reported = None
    if mapping.reported_at:
        reported, _ = parse_dates(frame[mapping.reported_at], zone=options.timezone,
                                  day_first=options.day_first, now=options.now)
    keep = np.array([r is None for r in reasons], dtype=bool)
    rejections = [Rejection(int(rows[i]), str(reasons[i])) for i in np.flatnonzero(~keep)]
    kept = frame[keep]
    batch = IncidentBatch(
        rows=rows[keep],
        external_id=_external_ids(kept, mapping),
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


def _external_ids(frame: pd.DataFrame, mapping: ColumnMapping) -> np.ndarray:
    """The file's own id where it has one, else a stable hash of the row's values."""
    hashed = None
    if mapping.external_id:
        ids = frame[mapping.external_id].astype(str).str.strip()
        missing = (ids == "").to_numpy()
        if not missing.any():
            return ids.to_numpy(dtype=object)
        hashed = row_hashes(frame[missing])
        result = ids.to_numpy(dtype=object)
        result[missing] = hashed
        return result
    return row_hashes(frame)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A stable id for rows with no id of their own: SHA-1 of the row's values."""
    joined = frame.astype(str).agg("\x1f".join, axis=1) if len(frame.columns) else pd.Series([], dtype=str)
    return np.array(["sha1:" + hashlib.sha1(v.encode("utf-8")).hexdigest() for v in joined], dtype=object)


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
