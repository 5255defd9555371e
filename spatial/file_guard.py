"""What a file must pass before GDAL opens it: no network access, no unbounded work.

* GDAL and PROJ never go on the network while reading an upload (``gdal_offline``, applied
  on import of this module). GDAL has no single switch for its HTTP client, so its requests
  are sent to a proxy address that refuses at once (``127.0.0.1:1``), with no retries; PROJ's
  grid downloads are off (``PROJ_NETWORK=OFF``). Applied before the first file is checked and
  by the application factory.
* A GeoJSON ``crs`` member that is not of type ``name`` (``link``, ``URL``, ``EPSG``, ...)
  makes GDAL fetch its address, so such a file is refused before GDAL sees it; a ``name`` (and a
  JSON-FG ``coordRefSys``) is accepted only when it is an EPSG or OGC code. Keys are compared
  case-insensitively and at every depth, as GDAL's own reader does.
* A GeoPackage (an SQLite file) with views, triggers other than the standard ones, or virtual
  tables other than its spatial index is refused: a recursive view pins a thread for ever inside
  GDAL, and GeoPackages exported by GIS software do not need any of them.
  The check opens the file read-only with Python's sqlite3 and a progress handler that stops
  it after a time budget.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from spatial import uploads
from spatial.errors import InvalidUpload, UploadTooLarge

# GDAL's HTTP client goes through this proxy: a loopback port nothing listens on, so any
# request a file manages to trigger fails at once instead of reaching the network.
_REFUSING_PROXY = "http://127.0.0.1:1"

GDAL_OFFLINE_OPTIONS: dict[str, str] = {
    "GDAL_HTTP_PROXY": _REFUSING_PROXY,
    "GDAL_HTTPS_PROXY": _REFUSING_PROXY,
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "2",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    # /vsicurl/ and friends: no extension is allowed, so no remote file is ever opened.
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".hotspots-no-remote-files",
    "CPL_CURL_ENABLE_VSIMEM": "NO",
    "PROJ_NETWORK": "OFF",
    "OSR_USE_NON_DEPRECATED": "YES",
    # KML read by libkml: never fetch styles or linked documents.
    "LIBKML_EXTERNAL_STYLE": "NO",
    "LIBKML_RESOLVE_STYLE": "NO",
    # SQLite-based formats: no extensions, no ATTACH of other files.
    "OGR_SQLITE_LOAD_EXTENSIONS": "",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
}

SQLITE_BUDGET_S = 2.0

# CRS names GDAL resolves from its own tables, without any network or file access.
_CODE_CRS = re.compile(
    r"^(?:EPSG:\d{1,6}"
    r"|urn:ogc:def:crs:(?:EPSG|OGC):[0-9.]*:[A-Za-z0-9]{1,12}"
    r"|https?://www\.opengis\.net/def/crs/(?:EPSG|OGC)/[0-9.]+/[A-Za-z0-9]{1,12}"
    r"|\[(?:EPSG|OGC):[A-Za-z0-9]{1,12}\]"
    r"|CRS84)$",
    re.IGNORECASE,
)
# Object keys that matter for a crs member; everything else is dropped while parsing
# so that a large file is not held in memory as Python objects.
_CRS_KEYS = {"type", "properties", "name", "href", "url", "code", "crs", "coordrefsys"}


_offline = False


def gdal_offline() -> None:
    """Turn off network access for GDAL (through pyogrio) and PROJ (through pyproj); idempotent."""
    global _offline
    if _offline:
        return
    os.environ["PROJ_NETWORK"] = "OFF"
    try:
        import pyproj.network

        pyproj.network.set_network_enabled(False)
    except ImportError:  # pragma: no cover - pyproj is a dependency
        pass
    try:
        import pyogrio
    except ImportError:  # pragma: no cover - pyogrio is a dependency
        return
    pyogrio.set_gdal_config_options(GDAL_OFFLINE_OPTIONS)
    _offline = True


def check_before_gdal(path: Path, shown_name: str, *, sqlite_budget_s: float = SQLITE_BUDGET_S) -> None:
    """Refuse a file GDAL must not open: a GeoJSON with a remote ``crs``, a GeoPackage with views/triggers."""
    gdal_offline()
    content = uploads.sniff_content(path)
    if content == uploads.JSON:
        refuse_remote_crs(path, shown_name)
    elif content == uploads.SQLITE:
        refuse_sqlite_code(path, shown_name, budget_s=sqlite_budget_s)


def refuse_remote_crs(path: Path, shown_name: str) -> None:
    """Refuse a JSON file whose ``crs``/``coordRefSys`` members could make GDAL fetch a URL."""
    members: list[tuple[str, Any]] = []

    def keep_crs_parts(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        kept = {}
        for key, value in pairs:
            folded = key.casefold()
            if folded in ("crs", "coordrefsys"):
                members.append((folded, value))
            if folded in _CRS_KEYS:
                kept[folded] = value
        return kept

    data = path.read_bytes()
    # Invalid UTF-8 is replaced, not refused: only the (ASCII) crs members matter here.
    text = data.decode(json.detect_encoding(data), errors="replace").lstrip("\ufeff")
    del data
    try:
        json.loads(text, object_pairs_hook=keep_crs_parts, parse_float=_drop, parse_int=_drop,
                   parse_constant=_drop)
    except (ValueError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise InvalidUpload(
            f"'{shown_name}' could not be read: it is not valid JSON{where}, so it is not GeoJSON. It may be cut short "
            "or damaged: export it again from your GIS and upload the new file.",
            {"file": shown_name, "reason": "invalid_json"},
        ) from None
    for key, value in members:
        problem = _crs_problem(key, value)
        if problem:
            raise InvalidUpload(
                f"'{shown_name}' declares its coordinate system {problem}. Only EPSG codes (for example "
                "\"urn:ogc:def:crs:EPSG::32620\") or no 'crs' at all (longitude/latitude) are accepted, "
                "because a linked coordinate system would make the server fetch an address. Export the file "
                "again with an EPSG code, or as longitude/latitude.",
                {"file": shown_name, "reason": "remote_crs"},
            )


def _drop(_: str) -> None:
    return None


def _crs_problem(key: str, value: Any) -> str | None:
    """Why a crs member is refused, or None when it is a plain code."""
    if value is None:
        return None
    if key == "coordrefsys":  # JSON-FG: a code string, or {"href": code}, or a list of those
        items = value if isinstance(value, list) else [value]
        for item in items:
            code = item.get("href") if isinstance(item, dict) else item
            if not isinstance(code, str) or not _CODE_CRS.match(code.strip()):
                return "with a 'coordRefSys' that is not an EPSG or OGC code"
        return None
    if not isinstance(value, dict):
        return "with a 'crs' member that is not an object"
    kind = value.get("type")
    if not isinstance(kind, str) or kind.casefold() != "name":
        return f"as a 'crs' of type '{kind}' (a link or URL)"
    name = (value.get("properties") or {}).get("name") if isinstance(value.get("properties"), dict) else None
    if not isinstance(name, str) or not _CODE_CRS.match(name.strip()):
        return f"by the name '{str(name)[:80]}', which is not an EPSG code"
    return None


def refuse_sqlite_code(path: Path, shown_name: str, *, budget_s: float = SQLITE_BUDGET_S) -> None:
    """Refuse an SQLite file (GeoPackage) with views or triggers, inspected within ``budget_s`` seconds."""
    deadline = time.monotonic() + budget_s
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                     check_same_thread=False)
    except sqlite3.Error:
        raise _damaged(shown_name) from None
    try:
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger', 'table') ORDER BY type, name"
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error):
            raise UploadTooLarge(
                f"Checking '{shown_name}' took longer than {budget_s:g} s, so it was stopped and the file "
                "refused. Export the layer again into a new GeoPackage and upload that.",
                {"file": shown_name, "reason": "time_budget", "budget_s": budget_s},
            ) from None
        raise _damaged(shown_name) from None
    except sqlite3.DatabaseError:
        raise _damaged(shown_name) from None
    finally:
        connection.close()
    refused = [(kind, name) for kind, name, sql in rows if _refused_schema_object(kind, name, sql or "")]
    if refused:
        kinds = sorted({"virtual table" if kind == "table" else kind for kind, _ in refused})
        names = [name for _, name in refused][:10]
        raise InvalidUpload(
            f"'{shown_name}' contains database {' and '.join(k + 's' for k in kinds)} ({', '.join(names)}). "
            "They can make reading the file run for ever, so it is refused. Export the layer into a new "
            "GeoPackage (in QGIS: Export > Save Features As…) and upload that.",
            {"file": shown_name, "reason": "sqlite_views_or_triggers", "objects": names},
        )


# Triggers GDAL and the GeoPackage standard create (tile matrix checks, spatial index upkeep,
# feature counts). Triggers only fire on writes, and the file is only ever read, so these are
# harmless; any other trigger is refused as something a GIS export does not make.
_STANDARD_TRIGGER = re.compile(
    r"^(?:gpkg_tile_matrix_\w+|gpkg_metadata\w*|rtree_\w+_(?:insert|update\d*|delete)"
    r"|trigger_(?:insert|delete)_feature_count_\w+)$", re.IGNORECASE)
_VIRTUAL_RTREE = re.compile(r"^\s*create\s+virtual\s+table\s+.*\busing\s+rtree", re.IGNORECASE | re.DOTALL)


def _refused_schema_object(kind: str, name: str, sql: str) -> bool:
    """Views, unknown triggers and virtual tables other than the spatial index (R*Tree)."""
    if kind == "view":
        return True
    if kind == "trigger":
        return _STANDARD_TRIGGER.match(name) is None
    return sql.lstrip().lower().startswith("create virtual") and _VIRTUAL_RTREE.match(sql) is None


def _damaged(shown_name: str) -> InvalidUpload:
    return InvalidUpload(
        f"'{shown_name}' looks like a GeoPackage but its database cannot be read; it may be damaged or "
        "incomplete. Export it again from your GIS and upload the new file.",
        {"file": shown_name, "reason": "damaged_sqlite"},
    )


def check_feature_count(count: int | None, limit: int, shown_name: str, what: str = "features") -> None:
    """Refuse a layer with more than ``limit`` features, before it is read."""
    if count is not None and count > limit:
        raise UploadTooLarge(
            f"'{shown_name}' holds {count:,} {what}, more than the limit of {limit:,}. Split it and upload "
            "the parts one at a time.",
            {"file": shown_name, "features": count, "limit": limit, "reason": "too_many_features"},
        )


def check_vertex_count(count: int, limit: int, shown_name: str) -> None:
    """Refuse geometries with more than ``limit`` vertices in all, before any geometry work."""
    if count > limit:
        raise UploadTooLarge(
            f"The boundaries in '{shown_name}' have {count:,} vertices, more than the limit of {limit:,}. "
            "Simplify them (in QGIS: Vector > Geometry Tools > Simplify, a tolerance of a few metres) and "
            "upload again.",
            {"file": shown_name, "vertices": count, "limit": limit, "reason": "too_many_vertices"},
        )

