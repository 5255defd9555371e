"""Boundary sets and communities on SQLite: WKB with a box, point-in-polygon in Python, aggregates in SQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from app.store.communities import Boundaries
from app.store.sqlite.published import PublishedFigures
from app.store.sqlite.common import box_of, geojson_text
from spatial.assign import CommunityLocator
from spatial.boundaries import Community

REASSIGN_BATCH = 50_000


class SQLiteBoundaries(Boundaries):
    """WKB with a box; point-in-polygon in Python; the aggregate functions as ``PublishedFigures``."""

    def active_community_shapes(self) -> tuple[list[int], list[bytes]]:
        rows = self.session.execute(text(
            "SELECT c.id, c.geom AS wkb FROM communities c "
            "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.id"
        )).all()
        return [r.id for r in rows], [bytes(r.wkb) for r in rows]

    def insert_communities(self, set_id: int, communities: list[Community]) -> None:
        rows = []
        for c in communities:
            shape = c.geometry if c.geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([c.geometry])
            rows.append({"set_id": set_id, "name": c.name, "code": c.code, "population": c.population,
                         "area_km2": c.area_km2, "wkb": shapely.to_wkb(shape), **box_of(shape)})
        self.session.execute(
            text(
                "INSERT INTO communities (boundary_set_id, name, code, population, area_km2, geom, "
                "west, south, east, north) VALUES (:set_id, :name, :code, :population, :area_km2, :wkb, "
                ":west, :south, :east, :north)"
            ),
            rows,
        )

    def activate_boundary_set(self, set_id: int) -> int:
        """As on PostGIS; SQLite has one writer at a time, so no advisory lock is needed."""
        self.session.execute(text("UPDATE boundary_sets SET is_active = 0 WHERE is_active AND id <> :id"), {"id": set_id})
        self.session.execute(text("UPDATE boundary_sets SET is_active = 1, activated_at = now() WHERE id = :id"),
                        {"id": set_id})
        rows = self.session.execute(text("SELECT id, geom FROM communities WHERE boundary_set_id = :id ORDER BY id"),
                               {"id": set_id}).all()
        locator = CommunityLocator([r.id for r in rows], [bytes(r.geom) for r in rows])
        changed, after_id = 0, 0
        while True:
            batch = self.session.execute(
                text("SELECT id, lon, lat, community_id FROM incidents WHERE id > :after ORDER BY id LIMIT :n"),
                {"after": after_id, "n": REASSIGN_BATCH},
            ).all()
            if not batch:
                return changed
            ids = np.array([r.id for r in batch], dtype=np.int64)
            located = locator.locate(np.array([r.lon for r in batch]), np.array([r.lat for r in batch]))
            new = [None] * len(batch) if located is None else [None if v < 0 else int(v) for v in located]
            updates = [{"id": int(i), "community": n} for i, n, r in zip(ids, new, batch, strict=True)
                       if r.community_id != n]
            if updates:
                self.session.execute(text("UPDATE incidents SET community_id = :community WHERE id = :id"), updates)
            changed += len(updates)
            after_id = int(ids[-1])

    def get_community(self, community_id: int) -> dict[str, Any] | None:
        row = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, c.geom, "
                "(SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
            ),
            {"id": community_id},
        ).first()
        return _with_geojson(row)

    def get_community_shape(self, community_id: int) -> dict[str, Any] | None:
        row = self.session.execute(
            text(
                "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, c.geom "
                "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
            ),
            {"id": community_id},
        ).first()
        return _with_geojson(row)

    def list_active_communities_aggregated(self) -> list[dict[str, Any]]:
        totals = PublishedFigures(self.session, self.sql).active_set_totals()
        rows = self.session.execute(text(
            "SELECT c.id, c.name, c.code, c.population, c.area_km2 FROM communities c "
            "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.name, c.id"
        ))
        return [{**dict(r._mapping), "incidents": totals.get(r.id)} for r in rows]

    def community_breakdown_aggregated(self, community_id: int, zone: str) -> dict[str, Any]:
        """``community_incident_breakdown`` of migration 0009: sums of the published atoms by category and
        by month, and their total."""
        by: dict[str, dict[str, int]] = {"category": {}, "month": {}}
        atoms = PublishedFigures(self.session, self.sql).atoms("i.community_id = :id", {"id": community_id})
        for atom in atoms:
            by["category"][atom.category] = by["category"].get(atom.category, 0) + atom.n
            by["month"][atom.month] = by["month"].get(atom.month, 0) + atom.n
        total = sum(a.n for a in atoms) or None
        by_category = [{"category": label, "incidents": n}
                       for label, n in sorted(by["category"].items(), key=lambda item: (-item[1], item[0]))]
        by_month = [{"month": label, "incidents": n} for label, n in sorted(by["month"].items())]
        return {"incidents": total, "by_category": by_category, "by_month": by_month}

    def published_months(self, zone: str, community_id: int | None = None) -> list[dict[str, Any]]:
        """The monthly sums of ``community_breakdown_aggregated``, for every community of the active set."""
        where = ("i.community_id IN (SELECT c.id FROM communities c JOIN boundary_sets s "
                 "ON s.id = c.boundary_set_id WHERE s.is_active)")
        if community_id is not None:
            where += " AND i.community_id = :community"
        sums: dict[tuple[int, str], int] = {}
        for atom in PublishedFigures(self.session, self.sql).atoms(where, {"community": community_id}):
            key = (int(atom.community_id), atom.month)
            sums[key] = sums.get(key, 0) + int(atom.n)
        return [{"community_id": c, "month": m, "incidents": n} for (c, m), n in sorted(sums.items())]

    def community_shapes(self, boundary_set_id: int, names: list[str] | None) -> list[dict[str, Any]]:
        clause, params = self.sql.in_list("c.name", names, "name") if names else ("1 = 1", {})
        rows = self.session.execute(
            text(
                "SELECT c.id, c.name, c.area_km2, c.population, c.geom AS wkb FROM communities c "
                f"WHERE c.boundary_set_id = :set_id AND {clause} ORDER BY c.id"
            ),
            {"set_id": boundary_set_id, **params},
        )
        return [{"id": r.id, "name": r.name, "area_km2": r.area_km2, "population": r.population, "wkb": bytes(r.wkb)}
                for r in rows]

    def community_ids_named(self, boundary_set_id: int, names: list[str]) -> list[int]:
        named, params = self.sql.in_list("name", names, "name")
        return list(self.session.execute(
            text(f"SELECT id FROM communities WHERE boundary_set_id = :set_id AND {named} ORDER BY id"),
            {"set_id": boundary_set_id, **params},
        ).scalars())


def _with_geojson(row) -> dict[str, Any] | None:
    if row is None:
        return None
    found = dict(row._mapping)
    found["geometry"] = geojson_text(found.pop("geom"), 6)
    return found
