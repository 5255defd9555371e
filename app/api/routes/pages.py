"""Browser pages: sign-in and sign-out, the home page, a community's page. Server-rendered, no CDN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import web_sessions
from app.api.deps import PageReader, StoreDep, SettingsDep
from app.audit import client_ip, record
from app.errors import Forbidden, TooManyRequests
from app.privacy import audience_for
from app.security import hash_token
from app.services import pages as page_service
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
    return templates.TemplateResponse(request, "community.html", {"user": user, **context},
                                      headers=page_headers(settings))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, settings: SettingsDep, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "sign_in.html", {"next": web_sessions.local_path(next)},
                                      headers=page_headers(settings))


@router.post("/sign-in")
def sign_in(request: Request, store: StoreDep, settings: SettingsDep,
            token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Exchange an API token for a session cookie; the token itself never goes back to the browser."""
    _require_same_origin(request)
    failures = request.app.state.limits["failed_auth"]
    address = client_ip(request) or "unknown"
    hashed = hash_token(token.strip())
    wait = failures.retry_after(address, hashed)
    if wait is not None:
        raise TooManyRequests("Too many failed sign-in attempts with this token. Try again later.", wait)
    principal = store.accounts.principal_for_token(hashed)
    if principal is None or principal.token_id is None:
        store.session.rollback()
        wait = failures.failed(address, hashed)
        record(store, action="auth.failed", outcome="refused", request=request, target="/sign-in",
               details={"reason": "unknown or revoked token"})
        if wait is not None:
            raise TooManyRequests("Too many failed sign-in attempts from this address. Try again later.", wait)
        return templates.TemplateResponse(
            request, "sign_in.html", {"next": web_sessions.local_path(next),
                                      "error": "That token is not valid, or has been revoked."},
            status_code=401, headers=page_headers(settings))
    store.session.commit()  # keep last_used_at
    response = RedirectResponse(web_sessions.local_path(next), status_code=303)
    web_sessions.set_cookie(response, request, web_sessions.issue(principal.token_id, settings), settings)
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    _require_same_origin(request)
    response = RedirectResponse("/sign-in", status_code=303)
    web_sessions.clear_cookie(response, request)
    return response


def _require_same_origin(request: Request) -> None:
    # Forms post only from our own pages: refuses login CSRF and forced sign-out.
    if not web_sessions.same_origin(request):
        raise Forbidden("This form must be sent from this site's own pages.")
