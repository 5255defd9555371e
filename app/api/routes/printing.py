"""Print views: a run and a community on one sheet that fits A4 and Letter ("Print / save as PDF")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import MAX_ID, PageReader, SettingsDep, StoreDep
from app.privacy import audience_for
from app.services import printing
from app.templating import page_headers, templates

PageId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/print/analyses/{run_id}", response_class=HTMLResponse)
def print_run(run_id: PageId, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader) -> Response:
    context = printing.run_sheet(store, run_id, audience_for(user, settings))
    return templates.TemplateResponse(request, "print.html", {"user": user, "synthetic": context["run"].synthetic,
                                                              **context}, headers=page_headers(settings))


@router.get("/print/communities/{community_id}", response_class=HTMLResponse)
def print_community(community_id: PageId, request: Request, store: StoreDep, settings: SettingsDep,
                    user: PageReader) -> Response:
    context = printing.community_sheet(store, settings, community_id, audience_for(user, settings))
    return templates.TemplateResponse(request, "print.html", {"user": user, **context},
                                      headers=page_headers(settings))
