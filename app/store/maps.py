"""What the map and community pages read: a run's cells and communities as GeoJSON, run summaries.

Only aggregates leave here (cells with counts, community outlines); never incident points.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.store.sql import BoundToSession

# 5 decimals of a degree is about 1 m: plenty for a ~170 m hexagon, and a third smaller than 6+.
CELL_PRECISION = 5
# Community outlines are simplified by ~5 m for the map; they are drawn, not measured.
OUTLINE_TOLERANCE_DEG = 0.00005


PUBLISHED_CELLS_GEOJSON = (
    "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
    "  'type', 'Feature', 'geometry', ST_AsGeoJSON(h.geom, :precision)::json,"
    "  'properties', json_build_object('incidents', h.incidents, 'gi_bin', h.gi_bin, 'lisa_label', h.lisa_label,"
    "    'community', c.name, 'suppressed', h.incidents IS NULL)"
    ") ORDER BY h.cell), '[]'::json))::text "
    "FROM published_cells h JOIN communities c ON c.id = h.community_id WHERE h.run_id = :run_id "
    "AND (CAST(:scope AS bigint[]) IS NULL OR h.community_id = ANY(CAST(:scope AS bigint[])))"
)


class Maps(BoundToSession):
    """What map pages read: the portable SQL; a backend builds the GeoJSON."""

    def latest_completed_run_with_community(self, community_id: int, *,
                                            shared_up_to_resolution: int | None = None) -> dict[str, Any] | None:
        """The newest completed run that analysed this community.

        With ``shared_up_to_resolution``: only shared runs that coarse or coarser (what
        audiences other than police may see; the same rule as ``Audience.sees_run``).
        """
        shared_only = (
            f"AND r.audience = 'shared' AND {self.sql.json_int('r.parameters', 'resolution')} <= :max_resolution "
            if shared_up_to_resolution is not None else ""
        )
        row = self.session.execute(
            text(
                "SELECT r.id, r.audience, r.parameters, r.provenance, r.finished_at, r.status FROM hotspot_runs r "
                f"WHERE r.status = 'completed' {shared_only}AND EXISTS "
                "  (SELECT 1 FROM hotspot_cells h WHERE h.run_id = r.id AND h.community_id = :id) "
                "ORDER BY r.id DESC LIMIT 1"
            ),
            {"id": community_id, "max_resolution": shared_up_to_resolution},
        ).first()
        return dict(row._mapping) if row else None


class PostgisMaps(Maps):
    """GeoJSON built in SQL."""

    def cells_feature_collection(self, run_id: int, *, min_count: int | None = None,
                                 scope: list[int] | None = None) -> str:
        """A run's cells as one GeoJSON FeatureCollection (text), with only the attributes the map shows.

        With ``min_count`` (audiences other than police) the published cells: a count under the
        database's k is null and ``suppressed`` says so, and no z or p; with ``scope`` only those
        communities' cells are included.
        """
        if min_count is not None:
            return self.session.execute(text(PUBLISHED_CELLS_GEOJSON), {"run_id": run_id, "precision": CELL_PRECISION,
                                                                  "scope": scope}).scalar_one()
        return self.session.execute(
            text(
                "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
                "  'type', 'Feature', 'geometry', ST_AsGeoJSON(h.geom, :precision)::json,"
                "  'properties', jsonb_build_object("
                "    'incidents', CASE WHEN h.incidents >= coalesce(:min_count, 0) THEN h.incidents END,"
                "    'gi_bin', h.gi_bin, 'lisa_label', h.lisa_label, 'community', c.name,"
                "    'gi_z', CASE WHEN h.gi_z = 'NaN' OR h.incidents < coalesce(:min_count, 0) THEN NULL"
                "                 ELSE round(h.gi_z::numeric, 2) END,"
                "    'gi_p_fdr', CASE WHEN h.gi_p_fdr = 'NaN' OR h.incidents < coalesce(:min_count, 0) THEN NULL"
                "                 ELSE round(h.gi_p_fdr::numeric, 4) END)"
                "  || CASE WHEN CAST(:min_count AS integer) IS NULL THEN '{}'::jsonb"
                "     ELSE jsonb_build_object('suppressed', h.incidents < :min_count) END"
                ") ORDER BY h.cell), '[]'::json))::text "
                "FROM hotspot_cells h JOIN communities c ON c.id = h.community_id WHERE h.run_id = :run_id "
                "AND (CAST(:scope AS bigint[]) IS NULL OR h.community_id = ANY(CAST(:scope AS bigint[])))"
            ),
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
