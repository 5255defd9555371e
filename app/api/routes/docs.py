"""The API documentation pages, Swagger UI at /docs and ReDoc at /redoc, served with their assets.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a police network
without internet they are blank. Here both come from ``/static/vendor`` (fetched
from the npm registry at install time and checked against the lock file, like
Leaflet), with no web fonts and no validator badge, under the same
Content-Security-Policy as every other page (ReDoc's search also runs in a
worker made from a blob).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.templating import page_headers

router = APIRouter(include_in_schema=False)

VENDOR = "/static/vendor"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title}: API",
        swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css", swagger_favicon_url="data:,",
        swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from validator.swagger.io
    return HTMLResponse(_in_english(page.body), headers=page_headers(request.app.state.settings, workers=True))


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(openapi_url=request.app.openapi_url, title=f"{request.app.title}: API",
                          redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js", redoc_favicon_url="data:,",
                          with_google_fonts=False)
    return HTMLResponse(_in_english(page.body), headers=page_headers(request.app.state.settings, workers=True))


def _in_english(body: bytes | memoryview) -> bytes:
    """FastAPI's page with its language named (screen readers pick their voice from it)."""
    return bytes(body).replace(b"<html>", b'<html lang="en">', 1)
