"""Hotspot maps: a run's Folium page, saved under static/maps/, shaped for the reader's audience."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from app.api.deps import PageReader, StoreDep, SettingsDep
from app.api.routes.ask import not_drawn_yet
from app.privacy import audience_for
from app.services import maps as map_service
from app.services import run_results
from app.templating import page_headers

router = APIRouter(tags=["maps"], include_in_schema=False)


@router.get("/maps/analyses/{run_id}", name="analysis_map")
def analysis_map(run_id: int, store: StoreDep, settings: SettingsDep, user: PageReader) -> Response:
    audience = audience_for(user, settings)
    if not run_results.visible_run(store, run_id, audience).completed:
        return not_drawn_yet(run_id)  # a browser gets the run's page (its state, a failure's reason), not JSON
    path = map_service.map_page(store, settings, run_id, audience)
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=page_headers(settings))
