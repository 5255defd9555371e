"""Hotspot maps: a run's Folium page, saved under static/maps/, shaped for the reader's audience."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.deps import PageReader, StoreDep, SettingsDep
from app.privacy import audience_for
from app.services import maps as map_service
from app.templating import page_headers

router = APIRouter(tags=["maps"], include_in_schema=False)


@router.get("/maps/analyses/{run_id}", name="analysis_map")
def analysis_map(run_id: int, store: StoreDep, settings: SettingsDep, user: PageReader) -> FileResponse:
    path = map_service.map_page(store, settings, run_id, audience_for(user, settings))
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=page_headers(settings))
