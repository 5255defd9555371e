"""Compare two hot-spot runs: the JSON comparison and the browser page with linked maps."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import MAX_ID, AudienceDep, PageReader, Reader, SettingsDep, StoreDep
from app.errors import BadRequest, NotFound
from app.privacy import audience_for
from app.services import compare as compare_service
from app.templating import page_headers, templates

router = APIRouter(tags=["analyses"])
pages = APIRouter(tags=["pages"], include_in_schema=False)

RunId = Annotated[int, Query(ge=1, le=MAX_ID, description="A completed hot and cold spot run")]


@router.get("/api/v1/compare", name="compare_runs",
            summary="Two hot-spot runs compared cell by cell: became hot, stayed hot, no longer hot")
def compare_runs(store: StoreDep, _: Reader, audience: AudienceDep, a: RunId, b: RunId,
                 community: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this community's cells")] = None,
                 ) -> dict[str, Any]:
    comparison = compare_service.compare_runs(store, a, b, audience, community)
    return compare_service.comparison_record(comparison, audience)


@pages.get("/compare", response_class=HTMLResponse, name="compare_page")
def compare_page(request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
                 a: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 b: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 community: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    """Two runs side by side (``a`` and ``b``), or a community's two latest runs (``community`` alone);
    a refusal is a page with the reason in words for a browser (app/errors.py)."""
    audience = audience_for(user, settings)
    if a is None or b is None:
        if community is None:
            raise BadRequest("Choose two runs to compare (a and b), or a community.")
        pair = compare_service.latest_pair(store, community, audience)
        if pair is None:
            raise NotFound("This community has fewer than two completed hot and cold spot runs you may see that "
                           "can be compared (of the same kind and cell size), so there is nothing to compare yet.")
        a, b = pair[0].id, pair[1].id
    comparison = compare_service.compare_runs(store, a, b, audience, community)
    context = compare_service.page_context(store, comparison, audience)
    context["layers_json"] = json.dumps(context.pop("layers")).replace("</", "<\\/")
    return templates.TemplateResponse(request, "compare.html", {"user": user, **context},
                                      headers=page_headers(settings))
