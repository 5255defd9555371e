"""Community figures, shaped for the audience asking (exact for police, safe aggregates for others)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.errors import NotFound
from app.formats import About, Feature
from app.privacy import Audience
from app.store.backends import Store


def active_communities(store: Store, audience: Audience) -> list[dict[str, Any]]:
    if audience.raw:
        return store.boundaries.list_active_communities()
    rows = store.boundaries.list_active_communities_aggregated()
    return [dict(r, suppressed=r["incidents"] is None) for r in audience.keep(rows, key="name")]


# The fields of a file of communities: police, and below analyst (totals protected, flagged when hidden).
COMMUNITY_COLUMNS = ("id", "name", "code", "population", "area_km2", "incidents")
SHARED_COMMUNITY_COLUMNS = (*COMMUNITY_COLUMNS, "suppressed")


def community_features(store: Store, audience: Audience) -> list[Feature]:
    """The active set's communities this audience may see, with their figures and boundaries (WKB)."""
    ids, shapes = store.boundaries.active_community_shapes()
    boundary = dict(zip(ids, shapes))
    return [Feature(row, boundary.get(row["id"]), id=row["id"]) for row in active_communities(store, audience)]


def communities_about(audience: Audience, stem: str) -> About:
    """What a file of communities says about itself."""
    counted = ("every incident of each community" if audience.raw else
               "incidents of each community, leaving out the categories classed sensitive and the held-back days")
    return About(name=stem, title="Communities of the active boundary set, with incident totals",
                 provenance=f"Totals counted {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC over {counted}.",
                 privacy=audience.tier_note())


def community_detail(store: Store, community_id: int, audience: Audience, zone: str) -> dict[str, Any]:
    """One community with its breakdowns; outside a partner's scope it does not exist (404)."""
    if audience.raw:
        found = store.boundaries.get_community(community_id)
        if found is None:
            raise NotFound(f"There is no community {community_id}.")
        return {**found, **store.boundaries.community_breakdown(community_id, zone)}
    found = store.boundaries.get_community_shape(community_id)
    if found is None or not audience.sees_community(found["name"]):
        raise NotFound(f"There is no community {community_id}.")
    figures = store.boundaries.community_breakdown_aggregated(community_id, zone)
    return {**found, **figures, "suppressed": figures["incidents"] is None}
