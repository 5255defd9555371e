"""Interventions: analysts record programmes; evaluations before and after, under the privacy tiers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import MAX_ID, Analyst, AudienceDep, Reader, SettingsDep, ShortText, StoreDep, limit_heavy
from app.audit import audited
from app.services import intervention_evaluation
from app.services import interventions as intervention_service

router = APIRouter(prefix="/api/v1/interventions", tags=["interventions"])
CommunityId = Annotated[int, Field(ge=1, le=MAX_ID)]
InterventionId = Annotated[int, Path(ge=1, le=MAX_ID)]


class InterventionBody(BaseModel):
    """A programme to evaluate: where and when it ran, and what to compare it with."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(description="e.g. 'Basseterre youth outreach 2025'")
    partner: ShortText | None = Field(default=None, description="Who ran it (free text)")
    starts_on: date = Field(description="First day of the programme (local date)")
    ends_on: date = Field(description="Last day of the programme (local date, included)")
    target_communities: list[CommunityId] = Field(default=[], max_length=500,
                                                  description="Community ids where it ran")
    target_geometry: dict[str, Any] | None = Field(
        default=None, description="Or the area it ran in: a GeoJSON Polygon or MultiPolygon in longitude/latitude")
    comparison_communities: list[CommunityId] = Field(
        default=[], max_length=500, description="Community ids to compare with (default: the rest of the active ones)")
    resolution: int = Field(default=intervention_service.DEFAULT_RESOLUTION,
                            description="H3 resolution of the buffer ring's cells (7-11)")
    buffer_rings: int = Field(default=1, description="Rings of cells around the target that make the buffer (0-3)")
    shared: bool = Field(default=False, description="Partners and viewers may see it and its published evaluation")


@router.post("", status_code=status.HTTP_201_CREATED, summary="Record an intervention (analyst)")
def create_intervention(body: InterventionBody, request: Request, store: StoreDep, user: Analyst) -> dict[str, Any]:
    new = intervention_service.NewIntervention(
        name=body.name, partner=body.partner, starts_on=body.starts_on, ends_on=body.ends_on,
        target_communities=tuple(body.target_communities), target_geometry=body.target_geometry,
        comparison_communities=tuple(body.comparison_communities), resolution=body.resolution,
        buffer_rings=body.buffer_rings, shared=body.shared)
    with audited(store, "interventions.create", principal=user, request=request, target=body.name) as entry:
        shown = intervention_service.create_intervention(store, new, user_id=user.user_id)
        store.session.commit()
        entry.target, entry.details = f"intervention {shown['id']}", {"name": body.name, "shared": body.shared}
    return shown


@router.get("", summary="Interventions the caller may see, newest first, a page at a time")
def list_interventions(store: StoreDep, _: Reader, audience: AudienceDep,
                       community: Annotated[ShortText | None, Query(description="Only those in this community (name)")]
                       = None,
                       limit: Annotated[int, Query(ge=1, le=200, description="Interventions per page")] = 50,
                       before: Annotated[int | None, Query(ge=1, le=MAX_ID, description=(
                           "Cursor: interventions older than this id (next_before of the page before)"))] = None,
                       ) -> dict[str, Any]:
    if community is not None:
        intervention_service.require_known_community(store, audience, community)
    shown = intervention_service.list_interventions(store, audience, community, limit=limit, before=before)
    return {"interventions": shown, "next_before": shown[-1]["id"] if len(shown) == limit else None}


@router.get("/{intervention_id}", summary="One intervention")
def get_intervention(intervention_id: InterventionId, store: StoreDep, _: Reader,
                     audience: AudienceDep) -> dict[str, Any]:
    return intervention_service.get_intervention(store, intervention_id, audience)


@router.delete("/{intervention_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an intervention (analyst)")
def delete_intervention(intervention_id: InterventionId, request: Request, store: StoreDep,
                        user: Analyst) -> None:
    with audited(store, "interventions.delete", principal=user, request=request,
                 target=f"intervention {intervention_id}"):
        intervention_service.delete_intervention(store, intervention_id)


@router.get("/{intervention_id}/evaluation",
            summary="Counts before and after in the target, buffer and comparison areas; the change and the WDQ")
def intervention_evaluation_route(intervention_id: InterventionId, request: Request,
                                  store: StoreDep, user: Reader, audience: AudienceDep,
                                  settings: SettingsDep) -> dict[str, Any]:
    if not audience.raw:
        return intervention_evaluation.evaluate(store, intervention_id, audience, settings)
    limit_heavy(request, user, "evaluation")
    with audited(store, "interventions.evaluate", principal=user, request=request,
                 target=f"intervention {intervention_id}") as entry:
        evaluation = intervention_evaluation.evaluate(store, intervention_id, audience, settings)
        entry.details = {"status": evaluation["status"]}
    return evaluation
