"""Boundary sets and communities (the part incident imports need)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def active_community_shapes(session: Session) -> tuple[list[int], list[bytes]]:
    """Ids and WKB polygons of the active boundary set's communities, in id order."""
    rows = session.execute(
        text(
            "SELECT c.id, ST_AsBinary(c.geom) AS wkb FROM communities c "
            "JOIN boundary_sets s ON s.id = c.boundary_set_id WHERE s.is_active ORDER BY c.id"
        )
    ).all()
    return [r.id for r in rows], [bytes(r.wkb) for r in rows]
