"""Community figures, shaped for the audience asking (exact for police, safe aggregates for others)."""

from __future__ import annotations

from typing import Any

from app.errors import NotFound
from app.privacy import Audience
from app.store.backends import Store


def active_communities(store: Store, audience: Audience) -> list[dict[str, Any]]:
    if audience.raw:
        return store.boundaries.list_active_communities()
    rows = store.boundaries.list_active_communities_aggregated()
    return [dict(r, suppressed=r["incidents"] is None) for r in audience.keep(rows, key="name")]


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
