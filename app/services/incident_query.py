"""Pages of incidents as features (written as GeoJSON by the route) with a keyset ``next`` link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import h3
import shapely
from starlette.datastructures import URL

from app.formats import About, Feature
from app.store.backends import Store
from app.store.incidents import IncidentFilter


def incident_rows(store: Store, filters: IncidentFilter, *, after: int | None,
                  limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` incidents after id ``after``, and whether more follow."""
    rows = store.incidents.list_incidents(filters, after_id=after, limit=limit + 1)
    return rows[:limit], len(rows) > limit


def incident_page(store: Store, filters: IncidentFilter, *, after: int | None, limit: int,
                  base_url: URL) -> tuple[list[Feature], dict[str, Any]]:
    """One page of incidents as features, and the collection members that follow them
    (``numberReturned``, ``links``, ``next``)."""
    rows, more = incident_rows(store, filters, after=after, limit=limit)
    links = []
    if more:
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": str(base_url.include_query_params(after=rows[-1]["id"], limit=limit))})
    members = {"numberReturned": len(rows), "links": links, "next": links[0]["href"] if links else None}
    return [incident_feature(r) for r in rows], members


INCIDENT_COLUMNS = ("id", "source", "external_id", "occurred_at", "reported_at", "category", "description",
                    "community_id", "h3_cell", "import_id")
EXPORT_PAGE = 5_000


def every_incident(store: Store, filters: IncidentFilter) -> Iterator[Feature]:
    """Every incident the filters match, read a page at a time (for file downloads; police only)."""
    after = None
    while rows := store.incidents.list_incidents(filters, after_id=after, limit=EXPORT_PAGE):
        points = shapely.to_wkb(shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]))
        for row, point in zip(rows, points):  # points as WKB, made a page at a time
            feature = incident_feature(row)
            feature.properties = {"id": row["id"], **feature.properties}
            feature.geometry = point
            yield feature
        after = rows[-1]["id"]
        if len(rows) < EXPORT_PAGE:
            break


def incidents_about(filters: IncidentFilter, stem: str) -> About:
    """What a file of incidents says about itself: the filters that chose them, and that they are police data."""
    chosen = {k: v for k, v in vars(filters).items() if v not in (None, (), [])}
    return About(name=stem, title="Incidents (points)",
                 provenance=f"Read {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; filters: "
                            + (", ".join(f"{k}={v}" for k, v in chosen.items()) or "none"),
                 privacy="Police tier: incident points are police data, for analysts and above only; "
                         "not to be shared outside the police.")


def incident_feature(row: dict[str, Any]) -> Feature:
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
