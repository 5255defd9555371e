"""Browser pages to ask for an analysis and find runs: the "New analysis" form, the run list, a run's page.

The form posts to the analyses API itself (``POST /api/v1/analyses``) from its own small script,
with the session cookie: the same-origin check that guards sign-out guards it too (CSRF).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import PageAnalyst, PageReader, SettingsDep, ShortText, StoreDep
from app.errors import BadRequest
from app.privacy import audience_for
from app.services import ask
from app.templating import page_headers, templates

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/analyses/new", response_class=HTMLResponse)
def new_analysis(request: Request, store: StoreDep, settings: SettingsDep, user: PageAnalyst,
                 from_run: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Response:
    """The "New analysis" form; ``from_run`` fills it with an earlier run's choices ("Run again")."""
    context = ask.new_analysis_form(store, settings, from_run)
    context["outlines_json"] = ask.outlines_json(context.pop("outlines"))
    return templates.TemplateResponse(request, "analysis_new.html", {"user": user, **context},
                                      headers=page_headers(settings))


@router.get("/analyses", response_class=HTMLResponse)
def run_list(request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
             status: ShortText | None = None, kind: ShortText | None = None, audience: ShortText | None = None,
             community: ShortText | None = None,
             before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Response:
    """Runs this reader may see, newest first, filtered by status, kind, audience and community, in pages."""
    query = ask.RunListQuery(status=status, kind=kind, audience=audience, community=community, before=before)
    reader = audience_for(user, settings)
    try:
        context, code = ask.run_list(store, reader, query), 200
    except BadRequest as refused:  # a hand-edited address: say so on the page, list everything
        context, code = ask.run_list(store, reader, ask.RunListQuery()), 400
        context["error"] = refused.message
    return templates.TemplateResponse(request, "analyses.html", {"user": user, **context}, status_code=code,
                                      headers=page_headers(settings))


@router.get("/analyses/{run_id}", response_class=HTMLResponse, name="analysis_page")
def run_page(run_id: int, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader) -> Response:
    """One run: its choices and state; a failed run's reason in plain words and "Run again"."""
    context = ask.run_page(store, run_id, audience_for(user, settings))
    return templates.TemplateResponse(request, "analysis_run.html", {"user": user, **context},
                                      headers=page_headers(settings))


def not_drawn_yet(run_id: int) -> RedirectResponse:
    """Where a browser asking for the map of a run that has not completed is sent: the run's page."""
    return RedirectResponse(f"/analyses/{run_id}", status_code=303)
