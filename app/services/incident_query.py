"""Pages of incidents as features (written as GeoJSON by the route) with a keyset ``next`` link."""

from __future__ import annotations

from typing import Any

import h3
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from app.formats import Feature
from app.store.incidents import IncidentFilter, list_incidents


def incident_page(session: Session, filters: IncidentFilter, *, after: int | None, limit: int,
                  base_url: URL) -> tuple[list[Feature], dict[str, Any]]:
    """One page of incidents as features, and the collection members that follow them
    (``numberReturned``, ``links``, ``next``)."""
    rows = list_incidents(session, filters, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    links = []
    if more:
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": str(base_url.include_query_params(after=rows[-1]["id"], limit=limit))})
    members = {"numberReturned": len(rows), "links": links, "next": links[0]["href"] if links else None}
    return [_feature(r) for r in rows], members


def _feature(row: dict[str, Any]) -> Feature:
    return Feature(
        id=row["id"],
        geometry={"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        properties={
            "source": row["source"],
            "external_id": row["external_id"],
            "occurred_at": row["occurred_at"].isoformat(),
            "reported_at": row["reported_at"].isoformat() if row["reported_at"] else None,
            "category": row["category"],
            "description": row["description"],
            "community_id": row["community_id"],
            "h3_cell": h3.int_to_str(row["h3_cell"]),
            "import_id": row["import_id"],
        },
    )
