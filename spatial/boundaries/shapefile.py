"""Sanity checks on the parts of a shapefile before GDAL reads it.

GDAL reads a shapefile whose .dbf is damaged as if it had no attributes at
all, which would surface as a confusing "no name field" message; checking the
headers here gives the uploader the real reason.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NoReturn

from spatial.errors import InvalidUpload

_SHAPE_FILE_CODE = 9994
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xF5, 0xFB}


def check_shapefile_parts(layer: str, shp: Path, shx: Path, dbf: Path) -> None:
    """Refuse a shapefile whose .shp, .shx or .dbf header is damaged or does not match."""
    for path, label in ((shp, ".shp"), (shx, ".shx")):
        if not _has_shape_header(path):
            _damaged(layer, label, "it does not start like a shapefile part")
    shape_count = (shx.stat().st_size - 100) // 8
    header = _dbf_header(dbf)
    if header is None:
        _damaged(layer, ".dbf", "its header is not a dBASE table header")
    records, header_length, record_length = header
    if header_length < 65 or record_length < 2:
        _damaged(layer, ".dbf", "it has no attribute fields")
    if dbf.stat().st_size < header_length + records * record_length:
        _damaged(layer, ".dbf", "it is shorter than its header says (the file is cut off)")
    if records != shape_count:
        _damaged(layer, ".dbf", f"it has {records} rows but the .shp has {shape_count} shapes")


def _has_shape_header(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(100)
    return len(head) == 100 and struct.unpack(">i", head[:4])[0] == _SHAPE_FILE_CODE


def _dbf_header(path: Path) -> tuple[int, int, int] | None:
    with path.open("rb") as handle:
        head = handle.read(32)
    if len(head) < 32 or head[0] not in _DBF_VERSIONS:
        return None
    records, header_length, record_length = struct.unpack("<IHH", head[4:12])
    return records, header_length, record_length


def _damaged(layer: str, part: str, why: str) -> NoReturn:
    raise InvalidUpload(
        f"The {part} file of the shapefile '{layer}' is damaged: {why}. "
        "Export the shapefile again from your GIS, zip all its files and upload the new archive.",
        {"layer": layer, "part": part, "reason": "damaged_shapefile"},
    )
