"""Print views: a run and a community on one sheet that fits A4 and Letter ("Print / save as PDF")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import MAX_ID, PageReader, SettingsDep, StoreDep
from app.privacy import audience_for
from app.services import printing
from app.templating import page_headers, templates

PageId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(tags=["pages"], include_in_schema=False)
# ?colours=safe: the sheet in colour-blind-safe colours (the map page's switch adds it to its print link).
Colours = Annotated[str | None, Query(max_length=20)]


@router.get("/print/analyses/{run_id}", response_class=HTMLResponse)
def print_run(run_id: PageId, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
              colours: Colours = None) -> Response:
    context = printing.run_sheet(store, run_id, audience_for(user, settings), printing.sheet_palette(colours))
    return templates.TemplateResponse(request, "print.html", {"user": user, "synthetic": context["run"].synthetic,
                                                              **context}, headers=page_headers(settings))


@router.get("/print/communities/{community_id}", response_class=HTMLResponse)
def print_community(community_id: PageId, request: Request, store: StoreDep, settings: SettingsDep,
                    user: PageReader, colours: Colours = None) -> Response:
    context = printing.community_sheet(store, settings, community_id, audience_for(user, settings),
                                       printing.sheet_palette(colours))
    return templates.TemplateResponse(request, "print.html", {"user": user, **context},
                                      headers=page_headers(settings))
