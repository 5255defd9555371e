"""Trends per community, CompStat style: the table of every community, and one community's series."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.deps import AudienceDep, Reader, SettingsDep, StoreDep
from app.services import trends as trend_service

router = APIRouter(tags=["trends"])

Step = Annotated[str, Query(max_length=16, description="'month' (everyone) or 'week' (police only)")]
Periods = Annotated[int | None, Query(description="How many periods the series holds, the latest complete last "
                                                  "(default 24 months or 26 weeks)")]


@router.get("/api/v1/trends", summary="CompStat table: this period, the last, the change and its test, the trend")
def compstat(store: StoreDep, settings: SettingsDep, _: Reader, audience: AudienceDep,
             step: Step = "month", periods: Periods = None) -> dict[str, Any]:
    options = trend_service.options_for(step, periods, audience)
    return trend_service.compstat_table(store, settings, audience, options)


@router.get("/api/v1/communities/{community_id}/trends",
            summary="One community's incidents per period, with its CompStat row and long-run trend")
def community_trends(community_id: int, store: StoreDep,
                     settings: SettingsDep, _: Reader, audience: AudienceDep,
                     step: Step = "month", periods: Periods = None) -> dict[str, Any]:
    options = trend_service.options_for(step, periods, audience)
    return trend_service.community_trend(store, settings, community_id, audience, options)
