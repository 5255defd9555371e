"""Browser pages: sign-in and sign-out, the home page, a community's page, interventions. Server-rendered, no CDN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import web_sessions
from app.api.deps import MAX_ID, PageReader, SettingsDep, SignInDep, StoreDep, limit_heavy
from app.audit import audited
from app.errors import Forbidden, NotAuthenticated
from app.privacy import audience_for
from app.services import intervention_pages
from app.services import pages as page_service
from app.services import rates_page
from app.services.maps import DOWNLOADS
from app.templating import page_headers, templates

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, store: StoreDep, settings: SettingsDep, user: PageReader) -> Response:
    context = page_service.home(store, audience_for(user, settings))
    return templates.TemplateResponse(request, "index.html", {"user": user, **context},
                                      headers=page_headers(settings))


@router.get("/communities/{community_id}", response_class=HTMLResponse)
def community(community_id: int, request: Request, store: StoreDep, settings: SettingsDep,
              user: PageReader) -> Response:
    context = page_service.community(store, settings, community_id, audience_for(user, settings))
    return templates.TemplateResponse(request, "community.html", {"user": user, "downloads": DOWNLOADS, **context},
                                      headers=page_headers(settings))


@router.get("/interventions", response_class=HTMLResponse)
def interventions_page(request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
                       before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    audience = audience_for(user, settings)
    context = intervention_pages.list_page(store, audience, before)
    return templates.TemplateResponse(request, "interventions.html", {
        "user": user, "min_count": None if audience.raw else audience.min_count, **context},
        headers=page_headers(settings))


@router.get("/interventions/{intervention_id}", response_class=HTMLResponse)
def intervention_page(intervention_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, store: StoreDep,
                      settings: SettingsDep, user: PageReader) -> Response:
    audience = audience_for(user, settings)
    if audience.raw:  # police see it evaluated now, as the API's evaluation route does (limited and audited alike)
        limit_heavy(request, user, "evaluation")
        with audited(store, "interventions.evaluate", principal=user, request=request,
                     target=f"intervention {intervention_id}"):
            context = intervention_pages.intervention_page(store, settings, intervention_id, audience)
    else:
        context = intervention_pages.intervention_page(store, settings, intervention_id, audience)
    return templates.TemplateResponse(request, "intervention.html", {"user": user, **context},
                                      headers=page_headers(settings))


@router.get("/analyses/{run_id}/rates", response_class=HTMLResponse)
def rates_map(run_id: int, request: Request, store: StoreDep, settings: SettingsDep, user: PageReader,
              indicator: str | None = None) -> Response:
    """Communities coloured by smoothed crime rate, or by crime rate and a social factor (3 x 3)."""
    context = rates_page.rates_page(store, run_id, audience_for(user, settings), indicator or None)
    return templates.TemplateResponse(request, "rates.html", {"user": user, **context},
                                      headers=page_headers(settings))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "sign_in.html", {"next": web_sessions.local_path(next)},
                                      headers=page_headers(settings))


@router.post("/sign-in")
def sign_in(request: Request, store: StoreDep, settings: SettingsDep, signing_in: SignInDep,
            token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Exchange an API token for a session cookie; the token itself never goes back to the browser."""
    _require_same_origin(request)
    try:  # looked up afresh (not from memory): a session starts only from a token live now
        principal = signing_in.check_token(store, request, token.strip(), remember=False)
    except NotAuthenticated:
        return templates.TemplateResponse(
            request, "sign_in.html", {"next": web_sessions.local_path(next),
                                      "error": "That token is not valid, or has been revoked."},
            status_code=401, headers=page_headers(settings))
    response = RedirectResponse(web_sessions.local_path(next), status_code=303)
    signing_in.start_browser_session(response, request, principal)
    return response


@router.post("/sign-out")
def sign_out(request: Request, signing_in: SignInDep) -> Response:
    _require_same_origin(request)
    response = RedirectResponse("/sign-in", status_code=303)
    signing_in.end_browser_session(response, request)
    return response


def _require_same_origin(request: Request) -> None:
    # Forms post only from our own pages: refuses login CSRF and forced sign-out.
    if not web_sessions.same_origin(request):
        raise Forbidden("This form must be sent from this site's own pages.")
