"""The hotspot tile queries of app/store/tiles.py on an async psycopg connection (the tile fast path).

The SQL is the same text as the sync store's, compiled once from its named
(``:name``) parameters to psycopg's (``%(name)s``), and run through the same
driver with the same parameters, so both paths draw the same bytes.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from app.store import tiles as tile_store
from app.store.communities import COMMUNITY_IDS_NAMED
from spatial.kinds import AnalysisKind

_DIALECT = psycopg_dialect.dialect()


def _pyformat(sql: str) -> str:
    return str(text(sql).compile(dialect=_DIALECT))


@cache
def _hotspot_cells(kind: AnalysisKind, published: bool) -> str:
    return _pyformat(tile_store.hotspot_cells_sql(kind, published))


@cache
def _hotspot_parents(kind: AnalysisKind, published: bool) -> str:
    return _pyformat(tile_store.hotspot_parents_sql(kind, published))


_COMMUNITY_IDS_NAMED = _pyformat(COMMUNITY_IDS_NAMED)


async def _tile(conn: AsyncConnection, sql: str, layer: str, z: int, x: int, y: int, limit: int,
                **params: Any) -> tuple[int, bytes]:
    cursor = await conn.execute(
        sql, {"z": z, "x": x, "y": y, "margin": tile_store.MARGIN, "layer": layer, "limit": limit, **params},
        binary=True)
    row = await cursor.fetchone()
    if row is None:  # an aggregate always answers one row; kept explicit for the type checker
        return 0, b""
    candidates, tile = row
    return int(candidates), bytes(tile or b"")


async def hotspot_cells_tile(conn: AsyncConnection, run_id: int, resolution: int, z: int, x: int, y: int,
                             limit: int, *, kind: AnalysisKind, min_count: int = 0,
                             scope: list[int] | None = None) -> tuple[int, bytes]:
    """As ``PostgisTiles.hotspot_cells_tile``."""
    return await _tile(conn, _hotspot_cells(kind, bool(min_count)), "hotspots", z, x, y, limit,
                       run_id=run_id, resolution=resolution, min_count=min_count, scope=scope)


async def hotspot_parents_tile(conn: AsyncConnection, run_id: int, resolution: int, z: int, x: int, y: int,
                               limit: int, *, kind: AnalysisKind, min_count: int = 0) -> tuple[int, bytes]:
    """As ``PostgisTiles.hotspot_parents_tile``."""
    return await _tile(conn, _hotspot_parents(kind, bool(min_count)), "hotspots", z, x, y,
                       limit, run_id=run_id, resolution=resolution)


async def community_ids_named(conn: AsyncConnection, boundary_set_id: int, names: list[str]) -> list[int]:
    """As ``PostgisBoundaries.community_ids_named``."""
    cursor = await conn.execute(_COMMUNITY_IDS_NAMED, {"set_id": boundary_set_id, "names": names})
    return [row[0] for row in await cursor.fetchall()]
