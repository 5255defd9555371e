"""Community figures, shaped for the audience asking (exact for police, safe aggregates for others)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.privacy import Audience
from app.store import communities as community_store


def active_communities(session: Session, audience: Audience) -> list[dict[str, Any]]:
    if audience.raw:
        return community_store.list_active_communities(session)
    rows = community_store.list_active_communities_aggregated(session)
    return [dict(r, suppressed=r["incidents"] is None) for r in audience.keep(rows, key="name")]


def community_detail(session: Session, community_id: int, audience: Audience, zone: str) -> dict[str, Any]:
    """One community with its breakdowns; outside a partner's scope it does not exist (404)."""
    if audience.raw:
        found = community_store.get_community(session, community_id)
        if found is None:
            raise NotFound(f"There is no community {community_id}.")
        return {**found, **community_store.community_breakdown(session, community_id, zone)}
    found = community_store.get_community_shape(session, community_id)
    if found is None or not audience.sees_community(found["name"]):
        raise NotFound(f"There is no community {community_id}.")
    figures = community_store.community_breakdown_aggregated(session, community_id, zone)
    return {**found, **figures, "suppressed": figures["incidents"] is None}
