"""Communities of the active boundary set, with aggregate incident figures."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.api import exports
from app.api.deps import AudienceDep, Reader, SettingsDep, StoreDep, limit_heavy
from app.audit import record
from app.formats import Feature, Formatter
from app.formats.geojson import feature_object
from app.services import communities as community_service

router = APIRouter(prefix="/api/v1/communities", tags=["communities"])

# The communities in this format are the API's own JSON listing; in any other format, a file of them.
LISTING = "json"


@router.get("", summary="Communities of the active boundary set, with incident counts (format: a file of "
                         "them with their boundaries)", responses=exports.download_responses(paged=LISTING))
def list_communities(
    request: Request, store: StoreDep, user: Reader, audience: AudienceDep,
    output: Annotated[Formatter | None, Depends(exports.format_parameter(default=LISTING, listing=LISTING))],
) -> Any:
    if output is None:
        return {"communities": community_service.active_communities(store, audience)}
    limit_heavy(request, user, "export")
    record(store, action="export.communities", principal=user, request=request, target="/api/v1/communities",
           details={"format": output.name})
    stem = "communities"
    return exports.download(output, community_service.community_features(store, audience),
                            community_service.COMMUNITY_COLUMNS if audience.raw
                            else community_service.SHARED_COMMUNITY_COLUMNS,
                            stem, about=community_service.communities_about(audience, stem))


@router.get("/{community_id}", summary="One community as a GeoJSON Feature, with incidents by category and month")
def get_community(community_id: int, store: StoreDep, settings: SettingsDep, _: Reader,
                  audience: AudienceDep) -> dict[str, Any]:
    found = community_service.community_detail(store, community_id, audience, settings.timezone)
    geometry = json.loads(found.pop("geometry"))
    return feature_object(Feature(found, geometry, id=found["id"]))
