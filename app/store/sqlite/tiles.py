"""Vector tiles on SQLite: rows found by their stored box, tiles encoded in Python (spatial/mvt.py).

Each function returns what its PostGIS twin returns: (candidate rows, MVT
bytes), where more candidates than ``limit - 1`` means "ask for a coarser
representation" (the caller never serves a truncated tile). Finished runs'
tiles are cached by the service, so each is encoded once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from app.store import kind_sql
from app.store.sqlite.common import box_of
from app.store.sqlite.published import PublishedFigures
from app.store.tiles import MARGIN, Tiles
from spatial.grid import cell_boundaries
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named
from spatial.kinds.parents import ParentGroups
from spatial.mvt import encode_layer, tile_bounds_lonlat

_IN_BOX = "{t}.east >= :west AND {t}.west <= :east AND {t}.north >= :south AND {t}.south <= :north"


def _box(z: int, x: int, y: int, margin: float = MARGIN) -> dict[str, float]:
    return dict(zip(("west", "south", "east", "north"), tile_bounds_lonlat(z, x, y, margin), strict=True))


def _hex(cell: int) -> str:
    return format(int(cell) & (2**64 - 1), "x")


def _safe(incidents: int | None) -> dict[str, Any]:
    """A published count: None (left out of the tile) and ``suppressed`` when hidden."""
    return {"incidents": incidents, "suppressed": True if incidents is None else None}


def _encode(layer: str, features: list, z: int, x: int, y: int, candidates: int,
            tolerance: float | None = None) -> tuple[int, bytes]:
    pixels = None
    if tolerance:
        # The PostGIS query simplifies by ``tolerance`` degrees; in pixels of this tile that is:
        pixels = tolerance / (360.0 / 2**z) * 4096
    return candidates, encode_layer(layer, features, z, x, y, simplify_pixels=pixels)


_ACTIVE_COMMUNITIES = (
    "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id AND s.is_active "
    f"WHERE {_IN_BOX.format(t='c')}"
)
_IN_TILE = "i.lat BETWEEN :south AND :north AND i.lon BETWEEN :west AND :east"


def _outside(outside: bool) -> str:
    return " AND i.community_id IS NULL" if outside else ""


def _extent(row) -> tuple[float, float, float, float] | None:
    return None if row is None or row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value]


class SQLiteTiles(Tiles):
    """Rows found by their stored box, tiles encoded in Python."""

    def hotspot_cells_tile(self, run_id: int, resolution: int, z: int, x: int, y: int,
                           limit: int, *, min_count: int = 0, scope: list[int] | None = None,
                           kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> tuple[int, bytes]:
        scoped, params = self.sql.in_list("h.community_id", scope, "scope") if scope is not None else ("1 = 1", {})
        # As the PostGIS store: below analyst (min_count > 0) the published view, classes only.
        columns = kind_sql.tile_cell_columns(kind, bool(min_count), masked=False)
        table = kind.published_cell_table if min_count else kind.cell_table
        rows = self.session.execute(
            text(
                f"SELECT h.cell, h.incidents, {columns}, c.name AS community, h.geom "
                f"FROM {table} h JOIN communities c ON c.id = h.community_id "
                f"WHERE h.run_id = :run_id AND {_IN_BOX.format(t='h')} AND {scoped} LIMIT :limit"
            ),
            {"run_id": run_id, "limit": limit, **_box(z, x, y), **params},
        ).all()
        features = []
        for r in rows:
            properties = {"cell": _hex(r.cell), "resolution": resolution, "incidents": r.incidents,
                          **{name: r._mapping[name] for name in kind.tile_fields}, "community": r.community}
            if min_count:
                properties.update(_safe(r.incidents))
            features.append((shapely.from_wkb(r.geom), properties))
        return _encode("hotspots", features, z, x, y, len(rows))

    def hotspot_parents_tile(self, run_id: int, resolution: int, z: int, x: int, y: int,
                             limit: int, *, min_count: int = 0,
                             kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> tuple[int, bytes]:
        table = kind.published_parent_table if min_count else kind.parent_table
        own = kind_sql.parent_columns(kind)
        rows = self.session.execute(
            text(
                f"SELECT p.cell, p.resolution, p.incidents, p.cells, {''.join(f'p.{c}, ' for c in own)}p.geom "
                f"FROM {table} p WHERE p.run_id = :run_id AND p.resolution = :resolution "
                f"AND {_IN_BOX.format(t='p')} LIMIT :limit"
            ),
            {"run_id": run_id, "resolution": resolution, "limit": limit, **_box(z, x, y)},
        ).all()
        features = []
        for r in rows:
            safe = _safe(r.incidents) if min_count else {"incidents": r.incidents}
            features.append((shapely.from_wkb(r.geom), {
                "cell": _hex(r.cell), "resolution": r.resolution, **safe, "cells": r.cells,
                **{c: r._mapping[c] for c in own},
            }))
        return _encode("hotspots", features, z, x, y, len(rows))

    def communities_tile(self, z: int, x: int, y: int, limit: int,
                         tolerance: float) -> tuple[int, bytes]:
        rows = self.session.execute(
            text("SELECT c.id, c.name, (SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents, "
                 f"c.geom {_ACTIVE_COMMUNITIES} LIMIT :limit"),
            {"limit": limit, **_box(z, x, y)},
        ).all()
        features = [(shapely.from_wkb(r.geom), {"id": r.id, "name": r.name, "incidents": r.incidents}) for r in rows]
        return _encode("communities", features, z, x, y, len(rows), tolerance)

    def communities_tile_aggregated(self, z: int, x: int, y: int, limit: int, tolerance: float, *,
                                    names: list[str] | None) -> tuple[int, bytes]:
        named, params = self.sql.in_list("c.name", names, "name") if names is not None else ("1 = 1", {})
        rows = self.session.execute(
            text(f"SELECT c.id, c.name, c.geom {_ACTIVE_COMMUNITIES} AND {named} LIMIT :limit"),
            {"limit": limit, **_box(z, x, y), **params},
        ).all()
        totals = PublishedFigures(self.session, self.sql).active_set_totals() if rows else {}
        features = []
        for r in rows:
            total = totals.get(r.id)
            features.append((shapely.from_wkb(r.geom), {"id": r.id, "name": r.name, "incidents": total,
                                                         "suppressed": True if total is None else None}))
        return _encode("communities", features, z, x, y, len(rows), tolerance)

    def incident_points_tile(self, z: int, x: int, y: int, limit: int, *,
                             outside: bool = False) -> tuple[int, bytes]:
        rows = self.session.execute(
            text(f"SELECT i.id, i.category, i.source, i.occurred_at, i.lon, i.lat FROM incidents i WHERE {_IN_TILE}"
                 f"{_outside(outside)} LIMIT :limit"),
            {"limit": limit, **_box(z, x, y, 0.0)},
        ).all()
        features = [(shapely.Point(r.lon, r.lat), {
            "id": r.id, "category": r.category, "source": r.source,
            "occurred_at": r.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }) for r in rows]
        return _encode("incidents", features, z, x, y, len(rows))

    def incident_cells_tile(self, resolution: int, z: int, x: int, y: int,
                            limit: int, *, outside: bool = False) -> tuple[int, bytes]:
        rows = self.session.execute(
            text(f"SELECT h3_parent(i.h3_cell, :resolution) AS cell, count(*) AS incidents, avg(i.lon) AS lon, "
                 f"avg(i.lat) AS lat FROM incidents i WHERE {_IN_TILE}{_outside(outside)} GROUP BY 1 LIMIT :limit"),
            {"resolution": resolution, "limit": limit, **_box(z, x, y, 0.0)},
        ).all()
        features = [(shapely.Point(r.lon, r.lat), {"cell": _hex(r.cell), "resolution": resolution,
                                                   "incidents": r.incidents}) for r in rows]
        return _encode("incidents", features, z, x, y, len(rows))

    def run_extent(self, run_id: int,
                   scope: list[int] | None = None) -> tuple[float, float, float, float] | None:
        scoped, params = self.sql.in_list("community_id", scope, "scope") if scope is not None else ("1 = 1", {})
        return _extent(self.session.execute(
            text(f"SELECT min(west), min(south), max(east), max(north) "
                 f"FROM {kind_sql.every_kinds_cells('run_id, community_id, west, south, east, north')} h "
                 f"WHERE run_id = :id AND {scoped}"), {"id": run_id, **params}).one())

    def active_communities_extent(self,
                                  names: list[str] | None = None) -> tuple[float, float, float, float] | None:
        named, params = self.sql.in_list("c.name", names, "name") if names is not None else ("1 = 1", {})
        return _extent(self.session.execute(
            text("SELECT min(c.west), min(c.south), max(c.east), max(c.north) FROM communities c "
                 f"JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active AND {named}"), params).one())

    def incidents_extent(self) -> tuple[float, float, float, float] | None:
        return _extent(self.session.execute(text("SELECT min(lon), min(lat), max(lon), max(lat) FROM incidents")).one())

    def _lock_parents(self, run_id: int) -> None:
        """SQLite's one write lock stands in for the advisory lock: end the read (a read-only request's
        snapshot could not write), then take the lock with a write that changes nothing."""
        self.session.commit()
        self.session.execute(text("UPDATE hotspot_runs SET id = id WHERE 0"))

    def _insert_parents(self, run_id: int, resolution: int, kind: AnalysisKind, groups: ParentGroups,
                        columns: dict[str, np.ndarray], *, min_count: int) -> None:
        hexagons = np.asarray(cell_boundaries(groups.parents), dtype=object)
        wkb = shapely.to_wkb(hexagons)
        own = kind_sql.parent_columns(kind)
        convert = {name: (str if column_type == "text" else float if column_type == "float" else int)
                   for name, column_type in kind.parent_fields}
        rows = [{"run_id": run_id, "resolution": resolution, "cell": int(groups.parents[i]),
                 "cells": int(groups.cells[i]), "incidents": int(groups.incidents[i]),
                 **{name: convert[name](columns[name][i]) for name in own},
                 "published": int(groups.published[i]), "k": min_count, "geom": bytes(wkb[i]), **box_of(hexagons[i])}
                for i in range(len(groups.parents))]
        self.session.execute(
            text(f"INSERT INTO {kind.parent_table} (run_id, resolution, cell, cells, incidents, "
                 f"{''.join(f'{c}, ' for c in own)}published_incidents, published_min_count, geom, "
                 "west, south, east, north) VALUES (:run_id, :resolution, :cell, :cells, :incidents, "
                 f"{''.join(f':{c}, ' for c in own)}:published, :k, :geom, :west, :south, :east, :north)"),
            rows,
        )
