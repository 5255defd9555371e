"""Vector-tile SQL: one ``ST_AsMVTGeom`` / ``ST_AsMVT`` query per tile and layer.

Every query selects only the columns its layer shows, finds rows through the
GiST index on the stored 4326 geometry (the tile envelope is transformed once,
not every row), transforms just those rows to 3857, and returns the tile
together with its count of candidate rows. The caller passes ``limit`` = cap + 1, so a
count above the cap means "too many here, ask for a coarser representation";
a truncated tile is never served.

Table names and attribute lists come from the fixed strings below, never
from a request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from app.store import kind_sql
from app.store.disclosure import Disclosure
from app.store.sql import BoundToSession
from spatial.grid import cell_boundaries
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named
from spatial.kinds.parents import ParentGroups, group_under_parents

EXTENT = 4096
BUFFER = 64
# ST_AsMVTGeom keeps BUFFER/EXTENT of a tile around it: select rows in that margin too.
MARGIN = BUFFER / EXTENT

_BOUNDS = (
    "bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS tile, "
    "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS search)"
)
_MVT_GEOM = f"ST_AsMVTGeom(ST_Transform({{geom}}, 3857), b.tile, {EXTENT}, {BUFFER}, true) AS geom"
# ``candidates`` counts rows before empty clipped geometries are dropped: the
# LIMIT applies to them, so only candidates <= cap proves nothing was left out.
_TILE = (
    "SELECT (SELECT count(*) FROM features) AS candidates, "
    f"(SELECT ST_AsMVT(f, :layer, {EXTENT}, 'geom') FROM features f WHERE geom IS NOT NULL) AS tile"
)

# ``:min_count`` is 0 for police (every count shown); otherwise a count under it is
# NULL, which ST_AsMVT leaves out of the feature, and ``suppressed`` says so.
# ``:scope`` (community ids) limits a partner to its communities; NULL: no limit.
_SAFE_INCIDENTS = (
    "CASE WHEN {t}.incidents >= :min_count THEN {t}.incidents END AS incidents, "
    "CASE WHEN {t}.incidents < :min_count THEN true END AS suppressed"
)

_SCOPED_LIMITED = (
    "WHERE h.run_id = :run_id AND h.geom && b.search "
    "AND (CAST(:scope AS bigint[]) IS NULL OR h.community_id = ANY(CAST(:scope AS bigint[]))) LIMIT :limit) "
)


@cache
def hotspot_cells_sql(kind: AnalysisKind, published: bool) -> str:
    """A run's own cells in one tile, with the kind's tile properties. Below analyst (``published``):
    the kind's published view (migration 0009 for Gi*), counts under k already NULL and no statistic,
    which the restricted role reads instead of the cell table."""
    if published:
        fields = "".join(f"h.{name}, " for name in kind.published_tile_fields)
        return (f"WITH {_BOUNDS}, features AS ("
                "SELECT to_hex(h.cell) AS cell, :resolution AS resolution, h.incidents, "
                f"CASE WHEN h.incidents IS NULL THEN true END AS suppressed, {fields}c.name AS community, "
                f"{_MVT_GEOM.format(geom='h.geom')} "
                f"FROM {kind.published_cell_table} h CROSS JOIN bounds b JOIN communities c ON c.id = h.community_id "
                f"{_SCOPED_LIMITED}{_TILE}")
    return (f"WITH {_BOUNDS}, features AS ("
            f"SELECT to_hex(h.cell) AS cell, :resolution AS resolution, {_SAFE_INCIDENTS.format(t='h')}, "
            f"{kind_sql.tile_cell_columns(kind, False, masked=True)}, "
            f"c.name AS community, {_MVT_GEOM.format(geom='h.geom')} "
            f"FROM {kind.cell_table} h CROSS JOIN bounds b JOIN communities c ON c.id = h.community_id "
            f"{_SCOPED_LIMITED}{_TILE}")


@cache
def hotspot_parents_sql(kind: AnalysisKind, published: bool) -> str:
    """A run's cells aggregated to their parents at one resolution, with the kind's parent columns.

    Parents mix communities, so a scoped partner never gets them (app/services/tiles.py). Below
    analyst a parent's count is the sum of its children's *published* counts (those of k or more),
    so the parent minus the children shown at the next zoom is 0 and bounds no hidden child."""
    suppressed = "CASE WHEN p.incidents IS NULL THEN true END AS suppressed, " if published else ""
    fields = "".join(f"p.{name}, " for name in kind_sql.parent_columns(kind))
    return (f"WITH {_BOUNDS}, features AS ("
            f"SELECT to_hex(p.cell) AS cell, p.resolution, p.incidents, {suppressed}"
            f"p.cells, {fields}"
            f"{_MVT_GEOM.format(geom='p.geom')} "
            f"FROM {kind.published_parent_table if published else kind.parent_table} p CROSS JOIN bounds b "
            "WHERE p.run_id = :run_id AND p.resolution = :resolution AND p.geom && b.search LIMIT :limit) "
            f"{_TILE}")

# Simplified in 4326 by about a pixel first: ST_AsMVTGeom would snap the
# vertices anyway, and fewer of them keep low-zoom boundary tiles small.
COMMUNITIES = (
    f"WITH {_BOUNDS}, features AS ("
    "SELECT c.id, c.name, (SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents, "
    f"{_MVT_GEOM.format(geom='ST_Simplify(c.geom, :tolerance, true)')} "
    "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id AND s.is_active CROSS JOIN bounds b "
    "WHERE c.geom && b.search LIMIT :limit) "
    f"{_TILE}"
)

# Below analyst: counts only through the aggregate function (sensitive categories and
# the held-back days left out, under k NULL); ``:names`` limits a partner to its scope.
COMMUNITIES_AGGREGATED = (
    f"WITH {_BOUNDS}, features AS ("
    "SELECT c.id, c.name, t.incidents, CASE WHEN t.incidents IS NULL THEN true END AS suppressed, "
    f"{_MVT_GEOM.format(geom='ST_Simplify(c.geom, :tolerance, true)')} "
    "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id AND s.is_active "
    "JOIN community_incident_totals(s.id) t ON t.community_id = c.id "
    "CROSS JOIN bounds b "
    "WHERE c.geom && b.search AND (CAST(:names AS text[]) IS NULL OR c.name = ANY(CAST(:names AS text[]))) "
    "LIMIT :limit) "
    f"{_TILE}"
)

# Points: only those inside the tile proper (no margin), so no incident is drawn in two tiles.
INCIDENT_POINTS = (
    f"WITH {_BOUNDS}, features AS ("
    "SELECT i.id, i.category, i.source, to_char(i.occurred_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS occurred_at, "
    f"{_MVT_GEOM.format(geom='i.geom')} "
    "FROM incidents i CROSS JOIN bounds b "
    "WHERE i.geom && ST_Transform(b.tile, 4326) AND (NOT :outside OR i.community_id IS NULL) LIMIT :limit) "
    f"{_TILE}"
)

# Counts per (tile, H3 parent), drawn at the mean position of the tile's
# incidents in that parent: that point lies inside the tile, so a parent cut by
# a tile edge is split between the tiles, never counted twice.
INCIDENT_CELLS = (
    f"WITH {_BOUNDS}, per_cell AS ("
    "SELECT to_hex(h3_parent(i.h3_cell, :resolution)) AS cell, count(*) AS incidents, "
    "ST_Centroid(ST_Collect(i.geom)) AS centre "
    "FROM incidents i CROSS JOIN bounds b WHERE i.geom && ST_Transform(b.tile, 4326) "
    "AND (NOT :outside OR i.community_id IS NULL) GROUP BY 1), "
    "features AS (SELECT a.cell, :resolution AS resolution, a.incidents, "
    f"{_MVT_GEOM.format(geom='a.centre')} FROM per_cell a CROSS JOIN bounds b LIMIT :limit) "
    f"{_TILE}"
)


class Tiles(BoundToSession, ABC):
    """Vector tiles and map extents: a backend draws them; the coarser parents of a run's cells are
    filled here (portable SQL) and stored by the backend."""

    def run_cell_resolution(self, run_id: int) -> int | None:
        """The H3 resolution of a run's cells, read from one cell's index bits."""
        cell = self.session.execute(text(f"SELECT cell FROM {kind_sql.every_kinds_cells('run_id, cell')} h "
                                         "WHERE run_id = :id LIMIT 1"), {"id": run_id}).scalar()
        return None if cell is None else (int(cell) >> 52) & 0xF

    def ensure_cell_parents(self, run_id: int, resolution: int,
                            kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> None:
        """Fill the kind's parent table for a finished run, once, under a lock (runs fill them when they
        finish; this is for runs stored before they did).

        Parents at every resolution below the run's: incidents summed, the kind's
        own parent columns (for Gi*: the strongest class kept, hot and cold cells
        counted), and the parent's exact H3 hexagon. Commits when it fills them.
        """
        def done() -> bool:
            return self.session.execute(text(f"SELECT 1 FROM {kind.parent_table} WHERE run_id = :id LIMIT 1"),
                                        {"id": run_id}).first() is not None

        if done() or self.session.info.get("restricted"):
            # The restricted role cannot read exact counts to sum them: runs fill their parents when
            # they finish, and only a run stored before that (revision 0005) lacks them until an
            # analyst opens its tiles; meanwhile its low zooms are empty below analyst.
            return
        self._lock_parents(run_id)
        if not done():
            self.fill_cell_parents(run_id, resolution, kind)
        self.session.commit()

    def fill_cell_parents(self, run_id: int, resolution: int,
                          kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> None:
        """Aggregate a run's stored cells to every coarser resolution, in the caller's transaction."""
        sources = kind.parent_sources
        rows = self.session.execute(text(f"SELECT cell, incidents, {', '.join(sources)} FROM {kind.cell_table} "
                                         "WHERE run_id = :id"), {"id": run_id}).all()
        k = Disclosure(self.session, self.sql).rules()["min_count"]
        if rows:
            cells, incidents, *inputs = zip(*rows, strict=True)
            cells_array, incidents_array = np.array(cells, dtype=np.int64), np.array(incidents, dtype=np.int64)
            values = {name: np.array(column, dtype=np.int64 if name == kind.class_field else object)
                      for name, column in zip(sources, inputs)}
            for res in range(resolution - 1, -1, -1):
                groups = group_under_parents(cells_array, incidents_array, res, k)
                self._insert_parents(run_id, res, kind, groups,
                                     kind.aggregate_parents(values, groups.index, len(groups.parents)), min_count=k)

    @abstractmethod
    def _lock_parents(self, run_id: int) -> None:
        """Two requests for one run's first low-zoom tile: the second waits, then finds them done."""

    @abstractmethod
    def _insert_parents(self, run_id: int, resolution: int, kind: AnalysisKind, groups: ParentGroups,
                        columns: dict[str, np.ndarray], *, min_count: int) -> None:
        """Store one resolution's parents: the groups' sums and the kind's own parent ``columns``."""


class PostgisTiles(Tiles):
    """One ``ST_AsMVT`` query per tile and layer (the SQL above)."""

    def _tile(self, sql: str, layer: str, z: int, x: int, y: int, limit: int,
              **params: Any) -> tuple[int, bytes]:
        row = self.session.execute(
            text(sql), {"z": z, "x": x, "y": y, "margin": MARGIN, "layer": layer, "limit": limit, **params}
        ).one()
        return int(row.candidates), bytes(row.tile or b"")

    def hotspot_cells_tile(self, run_id: int, resolution: int, z: int, x: int, y: int,
                           limit: int, *, min_count: int = 0, scope: list[int] | None = None,
                           kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> tuple[int, bytes]:
        """A run's own cells in one tile: (candidate rows, MVT bytes).

        ``min_count`` 0: police, every count and statistic; above 0: the published cells (counts under
        the database's k left out, classes only); ``scope``: only these communities' cells.
        """
        return self._tile(hotspot_cells_sql(kind, bool(min_count)), "hotspots", z, x, y, limit,
                          run_id=run_id, resolution=resolution, min_count=min_count, scope=scope)

    def hotspot_parents_tile(self, run_id: int, resolution: int, z: int, x: int, y: int,
                             limit: int, *, min_count: int = 0,
                             kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> tuple[int, bytes]:
        """A run's cells aggregated to their parents at ``resolution``, in one tile (``min_count`` above 0:
        the published sums of the children shown)."""
        return self._tile(hotspot_parents_sql(kind, bool(min_count)), "hotspots", z, x, y, limit,
                          run_id=run_id, resolution=resolution)

    def communities_tile(self, z: int, x: int, y: int, limit: int,
                         tolerance: float) -> tuple[int, bytes]:
        """The active set's communities in one tile, simplified by ``tolerance`` degrees, with exact counts."""
        return self._tile(COMMUNITIES, "communities", z, x, y, limit, tolerance=tolerance)

    def communities_tile_aggregated(self, z: int, x: int, y: int, limit: int, tolerance: float, *,
                                    names: list[str] | None) -> tuple[int, bytes]:
        """As ``communities_tile`` with safe counts (for the restricted role); ``names``: only these communities."""
        return self._tile(COMMUNITIES_AGGREGATED, "communities", z, x, y, limit, tolerance=tolerance, names=names)

    def incident_points_tile(self, z: int, x: int, y: int, limit: int, *,
                             outside: bool = False) -> tuple[int, bytes]:
        """Incident points in one tile (``outside``: only those in no community of the active set)."""
        return self._tile(INCIDENT_POINTS, "incidents", z, x, y, limit, outside=outside)

    def incident_cells_tile(self, resolution: int, z: int, x: int, y: int,
                            limit: int, *, outside: bool = False) -> tuple[int, bytes]:
        """Incident counts per H3 cell in one tile (``outside``: only incidents in no community)."""
        return self._tile(INCIDENT_CELLS, "incidents", z, x, y, limit, resolution=resolution, outside=outside)

    def run_extent(self, run_id: int,
                   scope: list[int] | None = None) -> tuple[float, float, float, float] | None:
        """West, south, east, north of a run's cells (only ``scope``'s communities' if given), in degrees."""
        row = self.session.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                 f"(SELECT ST_Extent(geom) AS e FROM {kind_sql.every_kinds_cells('run_id, community_id, geom')} h "
                 "WHERE run_id = :id "
                 "AND (CAST(:scope AS bigint[]) IS NULL OR community_id = ANY(CAST(:scope AS bigint[])))) x"),
            {"id": run_id, "scope": scope},
        ).one()
        return None if row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value]

    def active_communities_extent(self,
                                  names: list[str] | None = None) -> tuple[float, float, float, float] | None:
        """Extent of the active set's communities (only those called ``names`` if given)."""
        row = self.session.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(c.geom) AS e "
                 "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active "
                 "AND (CAST(:names AS text[]) IS NULL OR c.name = ANY(CAST(:names AS text[])))) x"),
            {"names": names},
        ).one()
        return None if row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value]

    def incidents_extent(self) -> tuple[float, float, float, float] | None:
        """Estimated extent from the planner's statistics (a full scan of incidents is too slow here)."""
        row = self.session.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                 "(SELECT coalesce(ST_EstimatedExtent('incidents', 'geom'), "
                 "(SELECT ST_Extent(geom) FROM incidents)) AS e) x")
        ).one()
        return None if row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value]

    def _lock_parents(self, run_id: int) -> None:
        """Two requests for one run's first low-zoom tile: the second waits, then finds them done."""
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('hotspot-cell-parents'), CAST(:id AS integer))"),
                        {"id": run_id % 2**31})

    def _insert_parents(self, run_id: int, resolution: int, kind: AnalysisKind, groups: ParentGroups,
                        columns: dict[str, np.ndarray], *, min_count: int) -> None:
        wkb = shapely.to_wkb(np.asarray(cell_boundaries(groups.parents), dtype=object))
        own = [(name, _ARRAY_TYPES[column_type]) for name, column_type in kind.parent_fields]
        self.session.execute(
            text(
                f"INSERT INTO {kind.parent_table} (run_id, resolution, cell, cells, incidents, "
                f"{''.join(f'{name}, ' for name, _ in own)}"
                "published_incidents, published_min_count, geom) SELECT :run_id, :resolution, u.cell, "
                f"u.cells, u.incidents, {''.join(f'u.{name}, ' for name, _ in own)}u.published, :k, "
                "ST_GeomFromWKB(u.wkb, 4326) FROM unnest(CAST(:cell AS bigint[]), CAST(:cells AS integer[]), "
                f"CAST(:incidents AS bigint[]), {''.join(f'CAST(:{name} AS {array}), ' for name, array in own)}"
                "CAST(:published AS bigint[]), CAST(:wkb AS bytea[])) "
                f"AS u(cell, cells, incidents, {''.join(f'{name}, ' for name, _ in own)}published, wkb)"
            ),
            {"run_id": run_id, "resolution": resolution, "cell": groups.parents.tolist(),
             "cells": groups.cells.tolist(), "incidents": groups.incidents.astype(np.int64).tolist(),
             **{name: _as_list(columns[name], array) for name, array in own},
             "published": groups.published.astype(np.int64).tolist(), "k": min_count, "wkb": list(wkb)},
        )


# The array type each declared column type is sent as.
_ARRAY_TYPES = {"smallint": "smallint[]", "integer": "integer[]", "bigint": "bigint[]", "float": "float8[]",
                "text": "text[]"}


def _as_list(values: np.ndarray, array: str) -> list:
    """A parent column as the list its array parameter takes."""
    if array == "text[]":
        return [str(v) for v in values]
    return np.asarray(values).astype(np.float64 if array == "float8[]" else np.int64).tolist()


def aggregate_to_parents(cells: np.ndarray, incidents: np.ndarray, classes: np.ndarray, resolution: int,
                         min_count: int, kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> tuple[np.ndarray, ...]:
    """Per parent: (parent, cells, incidents, the kind's parent columns in declared order, published
    incidents: the sum over children with ``min_count`` or more, what audiences below analyst see)."""
    groups = group_under_parents(cells, incidents, resolution, min_count)
    columns = kind.aggregate_parents({kind.class_field: np.asarray(classes)}, groups.index, len(groups.parents))
    return (groups.parents, groups.cells, groups.incidents, *(columns[c] for c in kind_sql.parent_columns(kind)),
            groups.published)
