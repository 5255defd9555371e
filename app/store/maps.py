"""What the map and community pages read: a run's cells and communities as GeoJSON, run summaries.

Only aggregates leave here (cells with counts, community outlines); never incident points.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import text

from app.runs import Run
from app.store.sql import BoundToSession
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named

# 5 decimals of a degree is about 1 m: plenty for a ~170 m hexagon, and a third smaller than 6+.
CELL_PRECISION = 5
# Community outlines are simplified by ~5 m for the map; they are drawn, not measured.
OUTLINE_TOLERANCE_DEG = 0.00005


_IN_RUN_AND_SCOPE = (
    "WHERE h.run_id = :run_id "
    "AND (CAST(:scope AS bigint[]) IS NULL OR h.community_id = ANY(CAST(:scope AS bigint[])))"
)


def _classes(kind: AnalysisKind) -> str:
    """The kind's classed fields as JSON properties (what the map colours cells by)."""
    return "".join(f"'{name}', h.{name}, " for name in kind.map_classes)


@cache
def published_cells_geojson(kind: AnalysisKind) -> str:
    """Below analyst: the published view's cells, counts under k already null, classes only."""
    return (
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
        "  'type', 'Feature', 'geometry', ST_AsGeoJSON(h.geom, :precision)::json,"
        f"  'properties', json_build_object('incidents', h.incidents, {_classes(kind)}"
        "    'community', c.name, 'suppressed', h.incidents IS NULL)"
        ") ORDER BY h.cell), '[]'::json))::text "
        f"FROM {kind.published_cell_table} h JOIN communities c ON c.id = h.community_id {_IN_RUN_AND_SCOPE}"
    )


@cache
def cells_geojson(kind: AnalysisKind) -> str:
    """Police: the cells with the kind's classes and its statistics, rounded for the map."""
    statistics = "".join(
        f", '{name}', CASE WHEN h.{name} = 'NaN' OR h.incidents < coalesce(:min_count, 0) THEN NULL"
        f" ELSE round(h.{name}::numeric, {int(digits)}) END" for name, digits, _ in kind.map_statistics)
    return (
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
        "  'type', 'Feature', 'geometry', ST_AsGeoJSON(h.geom, :precision)::json,"
        "  'properties', jsonb_build_object("
        "    'incidents', CASE WHEN h.incidents >= coalesce(:min_count, 0) THEN h.incidents END,"
        f"    {_classes(kind)}'community', c.name{statistics})"
        "  || CASE WHEN CAST(:min_count AS integer) IS NULL THEN '{}'::jsonb"
        "     ELSE jsonb_build_object('suppressed', h.incidents < :min_count) END"
        ") ORDER BY h.cell), '[]'::json))::text "
        f"FROM {kind.cell_table} h JOIN communities c ON c.id = h.community_id {_IN_RUN_AND_SCOPE}"
    )


class Maps(BoundToSession):
    """What map pages read: the portable SQL; a backend builds the GeoJSON."""

    def latest_completed_runs_with_community(self, community_id: int, *,
                                             shared_up_to_resolution: int | None = None,
                                             kind: AnalysisKind = kind_named(DEFAULT_KIND),
                                             limit: int = 2, before_id: int | None = None) -> list[Run]:
        """The ``limit`` newest completed runs of ``kind`` that analysed this community, newest first.

        With ``shared_up_to_resolution``: only shared runs that coarse or coarser (what audiences other
        than police may see; the coarse part of ``Audience.sees_run``); with ``before_id`` only runs
        older than that one (the next page)."""
        shared_only = (
            f"AND r.audience = 'shared' AND {self.sql.json_int('r.parameters', 'resolution')} <= :max_resolution "
            if shared_up_to_resolution is not None else ""
        )
        older = "AND r.id < :before_id " if before_id is not None else ""
        rows = self.session.execute(
            text(
                "SELECT r.id, r.kind, r.audience, r.parameters, r.provenance, r.finished_at, r.status, "
                "r.boundary_set_id FROM hotspot_runs r "
                f"WHERE r.status = 'completed' AND r.kind = :kind {shared_only}{older}AND EXISTS "
                f"  (SELECT 1 FROM {kind.cell_table} h WHERE h.run_id = r.id AND h.community_id = :id) "
                "ORDER BY r.id DESC LIMIT :limit"
            ),
            {"id": community_id, "max_resolution": shared_up_to_resolution, "kind": kind.name, "limit": limit,
             "before_id": before_id},
        )
        return [Run.from_row(dict(row._mapping)) for row in rows]


class PostgisMaps(Maps):
    """GeoJSON built in SQL."""

    def cells_feature_collection(self, run_id: int, *, min_count: int | None = None,
                                 scope: list[int] | None = None,
                                 kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> str:
        """A run's cells as one GeoJSON FeatureCollection (text), with only the attributes the map shows.

        With ``min_count`` (audiences other than police) the published cells: a count under the
        database's k is null and ``suppressed`` says so, and no z or p; with ``scope`` only those
        communities' cells are included.
        """
        if min_count is not None:
            return self.session.execute(text(published_cells_geojson(kind)),
                                        {"run_id": run_id, "precision": CELL_PRECISION, "scope": scope}).scalar_one()
        return self.session.execute(
            text(cells_geojson(kind)),
            {"run_id": run_id, "precision": CELL_PRECISION, "min_count": min_count, "scope": scope},
        ).scalar_one()

    def communities_feature_collection(self, community_ids: list[int]) -> tuple[str, tuple | None]:
        """Outlines of these communities as GeoJSON (text), and their bounds (west, south, east, north)."""
        row = self.session.execute(
            text(
                "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
                "  'type', 'Feature', 'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.geom, :tolerance), 5)::json,"
                "  'properties', json_build_object('community', c.name)) ORDER BY c.id), '[]'::json))::text AS data,"
                " ST_XMin(ST_Extent(c.geom)) AS west, ST_YMin(ST_Extent(c.geom)) AS south,"
                " ST_XMax(ST_Extent(c.geom)) AS east, ST_YMax(ST_Extent(c.geom)) AS north "
                "FROM communities c WHERE c.id = ANY(:ids)"
            ),
            {"ids": community_ids, "tolerance": OUTLINE_TOLERANCE_DEG},
        ).one()
        bounds = None if row.west is None else (row.west, row.south, row.east, row.north)
        return row.data, bounds
