"""Communities of the active boundary set, with aggregate incident figures."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from app.api.deps import AudienceDep, Reader, SessionDep, SettingsDep
from app.formats import Feature
from app.formats.geojson import feature_object
from app.services import communities as community_service

router = APIRouter(prefix="/api/v1/communities", tags=["communities"])


@router.get("", summary="Communities of the active boundary set, with incident counts")
def list_communities(session: SessionDep, _: Reader, audience: AudienceDep) -> dict[str, Any]:
    return {"communities": community_service.active_communities(session, audience)}


@router.get("/{community_id}", summary="One community as a GeoJSON Feature, with incidents by category and month")
def get_community(community_id: int, session: SessionDep, settings: SettingsDep, _: Reader,
                  audience: AudienceDep) -> dict[str, Any]:
    found = community_service.community_detail(session, community_id, audience, settings.timezone)
    geometry = json.loads(found.pop("geometry"))
    return feature_object(Feature(found, geometry, id=found["id"]))
