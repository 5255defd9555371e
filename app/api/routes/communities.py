"""Communities of the active boundary set, with aggregate incident figures."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from app.api.deps import SessionDep, SettingsDep, Viewer
from app.errors import NotFound
from app.store import communities as community_store

router = APIRouter(prefix="/api/v1/communities", tags=["communities"])


@router.get("", summary="Communities of the active boundary set, with incident counts")
def list_communities(session: SessionDep, _: Viewer) -> dict[str, Any]:
    return {"communities": community_store.list_active_communities(session)}


@router.get("/{community_id}", summary="One community as a GeoJSON Feature, with incidents by category and month")
def get_community(community_id: int, session: SessionDep, settings: SettingsDep, _: Viewer) -> dict[str, Any]:
    found = community_store.get_community(session, community_id)
    if found is None:
        raise NotFound(f"There is no community {community_id}.")
    geometry = json.loads(found.pop("geometry"))
    return {
        "type": "Feature",
        "id": found["id"],
        "geometry": geometry,
        "properties": {**found, **community_store.community_breakdown(session, community_id, settings.timezone)},
    }
