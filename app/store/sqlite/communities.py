"""Boundary sets and communities on SQLite: WKB with a box, point-in-polygon in Python, aggregates in SQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.store import disclosure as disclosure_store
from app.store.sql import hold_back_cutoff, local_month, not_sensitive
from app.store.sqlite.common import box_of, geojson_text
from spatial.assign import CommunityLocator
from spatial.boundaries import Community

REASSIGN_BATCH = 50_000


def active_community_shapes(session: Session) -> tuple[list[int], list[bytes]]:
    rows = session.execute(text(
        "SELECT c.id, c.geom AS wkb FROM communities c "
        "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.id"
    )).all()
    return [r.id for r in rows], [bytes(r.wkb) for r in rows]


def insert_communities(session: Session, set_id: int, communities: list[Community]) -> None:
    rows = []
    for c in communities:
        shape = c.geometry if c.geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([c.geometry])
        rows.append({"set_id": set_id, "name": c.name, "code": c.code, "population": c.population,
                     "area_km2": c.area_km2, "wkb": shapely.to_wkb(shape), **box_of(shape)})
    session.execute(
        text(
            "INSERT INTO communities (boundary_set_id, name, code, population, area_km2, geom, "
            "west, south, east, north) VALUES (:set_id, :name, :code, :population, :area_km2, :wkb, "
            ":west, :south, :east, :north)"
        ),
        rows,
    )


def activate_boundary_set(session: Session, set_id: int) -> int:
    """As on PostGIS; SQLite has one writer at a time, so no advisory lock is needed."""
    session.execute(text("UPDATE boundary_sets SET is_active = 0 WHERE is_active AND id <> :id"), {"id": set_id})
    session.execute(text("UPDATE boundary_sets SET is_active = 1, activated_at = now() WHERE id = :id"),
                    {"id": set_id})
    rows = session.execute(text("SELECT id, geom FROM communities WHERE boundary_set_id = :id ORDER BY id"),
                           {"id": set_id}).all()
    locator = CommunityLocator([r.id for r in rows], [bytes(r.geom) for r in rows])
    changed, after_id = 0, 0
    while True:
        batch = session.execute(
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
            session.execute(text("UPDATE incidents SET community_id = :community WHERE id = :id"), updates)
        changed += len(updates)
        after_id = int(ids[-1])


def get_community(session: Session, community_id: int) -> dict[str, Any] | None:
    row = session.execute(
        text(
            "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, c.geom, "
            "(SELECT count(*) FROM incidents i WHERE i.community_id = c.id) AS incidents "
            "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
        ),
        {"id": community_id},
    ).first()
    return _with_geojson(row)


def get_community_shape(session: Session, community_id: int) -> dict[str, Any] | None:
    row = session.execute(
        text(
            "SELECT c.id, c.name, c.code, c.population, c.area_km2, c.boundary_set_id, s.is_active, c.geom "
            "FROM communities c JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE c.id = :id"
        ),
        {"id": community_id},
    ).first()
    return _with_geojson(row)


def _with_geojson(row) -> dict[str, Any] | None:
    if row is None:
        return None
    found = dict(row._mapping)
    found["geometry"] = geojson_text(found.pop("geom"), 6)
    return found


def _totals(session: Session, set_clause: str, params: dict[str, Any]) -> dict[int, int | None]:
    """``community_incident_totals`` of migration 0009: the rules from ``privacy_rules``, only
    categories classed not sensitive, counts under max(k, 3) None."""
    rules = disclosure_store.rules(session)
    rows = session.execute(
        text(
            f"SELECT c.id, count(i.id) AS n FROM communities c LEFT JOIN incidents i ON i.community_id = c.id "
            f"AND {not_sensitive('i.category')} AND i.occurred_at < :cutoff WHERE {set_clause} GROUP BY c.id"
        ),
        {**params, "cutoff": hold_back_cutoff(rules["hold_back_days"])},
    ).all()
    k = max(rules["min_count"], 3)
    return {r.id: (r.n if r.n >= k else None) for r in rows}


def list_active_communities_aggregated(session: Session) -> list[dict[str, Any]]:
    totals = _totals(session, "c.boundary_set_id = (SELECT id FROM boundary_sets WHERE is_active)", {})
    rows = session.execute(text(
        "SELECT c.id, c.name, c.code, c.population, c.area_km2 FROM communities c "
        "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.name, c.id"
    ))
    return [{**dict(r._mapping), "incidents": totals.get(r.id)} for r in rows]


def community_breakdown_aggregated(session: Session, community_id: int, zone: str) -> dict[str, Any]:
    """``community_incident_breakdown`` of migration 0009, with the same complementary suppression."""
    rules = disclosure_store.rules(session)
    params = {"id": community_id, "zone": zone, "cutoff": hold_back_cutoff(rules["hold_back_days"])}
    where = f"community_id = :id AND {not_sensitive('category')} AND occurred_at < :cutoff"
    groups = {
        "category": session.execute(text(
            f"SELECT coalesce(category, '(none)') AS label, count(*) AS n FROM incidents WHERE {where} GROUP BY 1"
        ), params).all(),
        "month": session.execute(text(
            f"SELECT {local_month(session, 'occurred_at')} AS label, count(*) AS n FROM incidents WHERE {where} "
            "GROUP BY 1"
        ), params).all(),
    }
    k = max(rules["min_count"], 3)
    shown: dict[str, list[tuple[str, int]]] = {}
    for kind, rows in groups.items():
        kept = sorted(((r.label, r.n) for r in rows if r.n >= k), key=lambda g: (g[1], g[0]))
        if sum(1 for r in rows if r.n < k) == 1 and kept:
            kept = kept[1:]  # one hidden group: the smallest shown goes too (total minus shown reveals nothing)
        shown[kind] = kept
    set_id = session.execute(text("SELECT boundary_set_id FROM communities WHERE id = :id"),
                             {"id": community_id}).scalar_one_or_none()
    total = None
    if set_id is not None:
        total = _totals(session, "c.id = :community", {"community": community_id}).get(community_id)
    by_category = sorted(({"category": label, "incidents": n} for label, n in shown["category"]),
                         key=lambda r: (-r["incidents"], r["category"]))
    by_month = sorted(({"month": label, "incidents": n} for label, n in shown["month"]), key=lambda r: r["month"])
    return {"incidents": total, "by_category": by_category, "by_month": by_month}
