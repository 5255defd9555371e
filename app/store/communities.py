"""Boundary sets and communities: storing uploads, activation, shapes, per-community statistics."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import DateTime, bindparam, text

from app.store.sql import BoundToSession, rows_changed, step_number
from models.types import JSONDocument
from spatial.boundaries import Community

COMMUNITY_IDS_NAMED = "SELECT id FROM communities WHERE boundary_set_id = :set_id AND name = ANY(:names) ORDER BY id"


class Boundaries(BoundToSession, ABC):
    """Boundary sets and their communities: the portable SQL; a backend adds geometry, activation
    and the aggregate-only figures."""

    def create_boundary_set(
        self, *, name: str, filename: str, source_crs: str, attribution: str | None,
        user_id: int | None, report: dict[str, Any], communities: list[Community],
    ) -> int:
        """Store a new (inactive) boundary set and its communities; returns the set's id."""
        set_id = self.session.execute(
            text(
                "INSERT INTO boundary_sets (name, filename, source_crs, attribution, created_by, report) "
                "VALUES (:name, :filename, :crs, :attribution, :user_id, :report) RETURNING id"
            ).bindparams(bindparam("report", type_=JSONDocument)),
            {"name": name, "filename": filename, "crs": source_crs, "attribution": attribution,
             "user_id": user_id, "report": json.loads(json.dumps(report, default=str))},
        ).scalar_one()
        self.insert_communities(int(set_id), communities)
        return int(set_id)

    def boundary_set_exists(self, set_id: int) -> bool:
        return self.session.execute(text("SELECT 1 FROM boundary_sets WHERE id = :id"), {"id": set_id}).first() is not None

    def list_boundary_sets(self) -> list[dict[str, Any]]:
        rows = self.session.execute(
            text(
                "SELECT s.id, s.name, s.filename, s.source_crs, s.attribution, s.created_at, s.is_active, "
                "s.activated_at, count(c.id) AS communities FROM boundary_sets s "
                "LEFT JOIN communities c ON c.boundary_set_id = s.id GROUP BY s.id ORDER BY s.id DESC"
            )
        )
        return [dict(r._mapping) for r in rows]

    def get_boundary_set(self, set_id: int) -> dict[str, Any] | None:
        row = self.session.execute(
            text(
                "SELECT s.id, s.name, s.filename, s.source_crs, s.attribution, s.created_at, s.is_active, "
                "s.activated_at, s.report, (SELECT count(*) FROM communities c WHERE c.boundary_set_id = s.id) "
                "AS communities FROM boundary_sets s WHERE s.id = :id"
            ),
            {"id": set_id},
        ).first()
        return dict(row._mapping) if row else None

    def list_active_communities(self) -> list[dict[str, Any]]:
        """Communities of the active set, with their incident counts."""
        rows = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, "
                "(SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id "
                "WHERE s.is_active ORDER BY c.name, c.id"
            )
        )
        return [dict(r._mapping) for r in rows]

    def community_breakdown(self, community_id: int, zone: str) -> dict[str, list[dict[str, Any]]]:
        """Incidents of one community by category and by month (months in the service's zone)."""
        by_category = self.session.execute(
            text(
                "SELECT coalesce(category, '(none)') AS category, count(*) AS incidents FROM incidents "
                "WHERE community_id = :id GROUP BY 1 ORDER BY 2 DESC, 1"
            ),
            {"id": community_id},
        )
        by_month = self.session.execute(
            text(
                f"SELECT {self.sql.local_month('occurred_at')} AS month, "
                "count(*) AS incidents FROM incidents WHERE community_id = :id GROUP BY 1 ORDER BY 1"
            ),
            {"id": community_id, "zone": zone},
        )
        return {
            "by_category": [dict(r._mapping) for r in by_category],
            "by_month": [dict(r._mapping) for r in by_month],
        }

    def incident_counts_per_period(self, bounds: Sequence[datetime],
                                   community_id: int | None = None) -> list[dict[str, Any]]:
        """Exact incidents per community of the active set and period, in one ``GROUP BY``: period ``i``
        holds the incidents in [bounds[i], bounds[i + 1]) (police only: it reads the incidents). A period
        without incidents has no row."""
        if len(bounds) < 2:
            return []
        period, ends = step_number("i.occurred_at", bounds)
        only = "AND i.community_id = :community" if community_id is not None else ""
        rows = self.session.execute(
            text(
                f"SELECT i.community_id, {period} AS period, count(*) AS incidents FROM incidents i "
                "JOIN communities c ON c.id = i.community_id JOIN boundary_sets s ON s.id = c.boundary_set_id "
                f"WHERE s.is_active AND i.occurred_at >= :start AND i.occurred_at < :end {only} "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            {"start": bounds[0], "end": bounds[-1], "community": community_id, **ends},
        )
        return [dict(r._mapping) for r in rows]

    def incident_time_range(self) -> tuple[datetime, datetime] | None:
        """The first and the last incident recorded in a community of the active set (None: none)."""
        row = self.session.execute(
            text(
                "SELECT min(i.occurred_at) AS first, max(i.occurred_at) AS last FROM incidents i "
                "JOIN communities c ON c.id = i.community_id JOIN boundary_sets s ON s.id = c.boundary_set_id "
                "WHERE s.is_active"
            ).columns(first=DateTime(timezone=True), last=DateTime(timezone=True))
        ).one()
        return None if row.first is None else (row.first, row.last)

    @abstractmethod
    def published_months(self, zone: str, community_id: int | None = None) -> list[dict[str, Any]]:
        """Each community's published monthly figures (below analyst): per community of the active set
        (or the one given) and month, the sum of its published atoms, as ``community_breakdown_aggregated``
        gives them; a month with no atom shown has no row (fewer than k, or none: not known)."""

    def incidents_in_no_community(self) -> int | None:
        """Incidents outside every community of the active boundary set (None when no set is active)."""
        return self.session.execute(text(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM boundary_sets WHERE is_active) "
            "THEN (SELECT count(*) FROM incidents WHERE community_id IS NULL) END"
        )).scalar_one()

    def active_boundary_set_id(self) -> int | None:
        return self.session.execute(text("SELECT id FROM boundary_sets WHERE is_active")).scalar_one_or_none()

    @abstractmethod
    def insert_communities(self, set_id: int, communities: list[Community]) -> None:
        """Store a set's communities (MultiPolygons in 4326)."""


class PostgisBoundaries(Boundaries):
    """Geometry in PostGIS; aggregates below analyst through the SQL functions of migration 0009."""

    def active_community_shapes(self) -> tuple[list[int], list[bytes]]:
        """Ids and WKB polygons of the active boundary set's communities, in id order."""
        rows = self.session.execute(
            text(
                "SELECT c.id, ST_AsBinary(c.geom) AS wkb FROM communities c "
                "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.id"
            )
        ).all()
        return [r.id for r in rows], [bytes(r.wkb) for r in rows]

    def insert_communities(self, set_id: int, communities: list[Community]) -> None:
        self.session.execute(
            text(
                "INSERT INTO communities (boundary_set_id, name, code, population, area_km2, geom) "
                "VALUES (:set_id, :name, :code, :population, :area_km2, "
                "ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"
            ),
            [
                {"set_id": set_id, "name": c.name, "code": c.code, "population": c.population,
                 "area_km2": c.area_km2, "wkb": shapely.to_wkb(c.geometry)}
                for c in communities
            ],
        )

    def activate_boundary_set(self, set_id: int) -> int:
        """Make ``set_id`` the active set and re-assign every incident's community.

        A point on a shared border goes to the community with the lowest id, the
        same rule the importer uses. Returns the number of incidents whose
        community changed. Runs in the caller's transaction.
        """
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('boundary-activation'))"))
        self.session.execute(text("UPDATE boundary_sets SET is_active = false WHERE is_active AND id <> :id"), {"id": set_id})
        self.session.execute(
            text("UPDATE boundary_sets SET is_active = true, activated_at = now() WHERE id = :id"), {"id": set_id}
        )
        result = self.session.execute(
            text(
                "UPDATE incidents i SET community_id = located.community_id "
                "FROM (SELECT i2.id, (SELECT c.id FROM communities c "
                "      WHERE c.boundary_set_id = :id AND ST_Intersects(c.geom, i2.geom) "
                "      ORDER BY c.id LIMIT 1) AS community_id FROM incidents i2) AS located "
                "WHERE located.id = i.id AND i.community_id IS DISTINCT FROM located.community_id"
            ),
            {"id": set_id},
        )
        return rows_changed(result)

    def get_community(self, community_id: int) -> dict[str, Any] | None:
        row = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, "
                "ST_AsGeoJSON(c.geom, 6) AS geometry, "
                "(SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
            ),
            {"id": community_id},
        ).first()
        return dict(row._mapping) if row else None

    def list_active_communities_aggregated(self) -> list[dict[str, Any]]:
        """As ``list_active_communities``, through the aggregate-only SQL function (restricted role),
        which reads k, the hold-back and the category classes itself."""
        rows = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, t.incidents "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id "
                "JOIN community_incident_totals(s.id) t ON t.community_id = c.id "
                "WHERE s.is_active ORDER BY c.name, c.id"
            ),
        )
        return [dict(r._mapping) for r in rows]

    def get_community_shape(self, community_id: int) -> dict[str, Any] | None:
        """A community without any incident figure (for audiences that get aggregates only)."""
        row = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, "
                "ST_AsGeoJSON(c.geom, 6) AS geometry "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
            ),
            {"id": community_id},
        ).first()
        return dict(row._mapping) if row else None

    def community_breakdown_aggregated(self, community_id: int, zone: str) -> dict[str, Any]:
        """By category and month without sensitive categories, groups under k left out, plus the total."""
        rows = self.session.execute(
            text("SELECT kind, label, incidents FROM community_incident_breakdown(:id, :zone) ORDER BY kind, label"),
            {"id": community_id, "zone": zone},
        ).all()
        total = self.session.execute(
            text("SELECT t.incidents FROM communities c, community_incident_totals(c.boundary_set_id) t "
                 "WHERE c.id = :id AND t.community_id = c.id"),
            {"id": community_id},
        ).scalar_one_or_none()
        by_category = sorted(({"category": r.label, "incidents": r.incidents} for r in rows if r.kind == "category"),
                             key=lambda r: (-r["incidents"], r["category"]))
        by_month = [{"month": r.label, "incidents": r.incidents} for r in rows if r.kind == "month"]
        return {"incidents": total, "by_category": by_category, "by_month": by_month}

    def published_months(self, zone: str, community_id: int | None = None) -> list[dict[str, Any]]:
        """Through ``community_incident_breakdown`` (migration 0009), which the restricted role may call; its
        months are in the privacy rules' zone (its zone argument is kept for the signature only)."""
        only = "AND c.id = :community" if community_id is not None else ""
        rows = self.session.execute(
            text(
                "SELECT c.id AS community_id, b.label AS month, b.incidents FROM communities c "
                "JOIN boundary_sets s ON s.id = c.boundary_set_id "
                "CROSS JOIN LATERAL community_incident_breakdown(c.id, :zone) b "
                f"WHERE s.is_active AND b.kind = 'month' {only} ORDER BY 1, 2"
            ),
            {"community": community_id, "zone": zone},
        )
        return [dict(r._mapping) for r in rows]

    def community_shapes(self, boundary_set_id: int, names: list[str] | None) -> list[dict[str, Any]]:
        """Communities of a set (all, or those named), with WKB polygons, in id order."""
        clause = "AND c.name = ANY(:names)" if names else ""
        rows = self.session.execute(
            text(
                "SELECT c.id, c.name, c.area_km2, c.population, ST_AsBinary(c.geom) AS wkb FROM communities c "
                f"WHERE c.boundary_set_id = :set_id {clause} ORDER BY c.id"
            ),
            {"set_id": boundary_set_id, "names": names},
        )
        return [{"id": r.id, "name": r.name, "area_km2": r.area_km2, "population": r.population, "wkb": bytes(r.wkb)}
                for r in rows]

    def community_ids_named(self, boundary_set_id: int, names: list[str]) -> list[int]:
        """Ids of the communities of a boundary set called ``names`` (a partner's scope)."""
        return list(self.session.execute(text(COMMUNITY_IDS_NAMED), {"set_id": boundary_set_id, "names": names}).scalars())
