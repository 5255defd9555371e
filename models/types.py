"""Column types that differ between PostGIS and the embedded SQLite store (see migrations/backend.py)."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import INET, JSONB

# SQLite numbers a row only through an INTEGER PRIMARY KEY (its rowid).
ID = BigInteger().with_variant(Integer(), "sqlite")
JSONDocument = JSONB().with_variant(JSON(), "sqlite")
InetAddress = INET().with_variant(Text(), "sqlite")


def geometry(kind: str):
    """PostGIS geometry in lon/lat; WKB bytes on SQLite."""
    return Geometry(kind, srid=4326, spatial_index=False).with_variant(LargeBinary(), "sqlite")
