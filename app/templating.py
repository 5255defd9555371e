"""Server-rendered pages: the Jinja2 templates shipped in the package, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.settings import Settings

if TYPE_CHECKING:
    from app.auth import Principal

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")


def accept_weights(request: Request) -> dict[str, float]:
    """Each media type of the request's Accept header with its quality (first mention wins)."""
    weights: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        weights.setdefault(media.strip().lower(), quality)
    return weights


def prefers_html(request: Request, json_types: tuple[str, ...] = JSON_TYPES) -> bool:
    """Whether the Accept header asks for text/html at least as much as for JSON (a browser)."""
    weights = accept_weights(request)
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= max((weights.get(t, 0.0) for t in json_types), default=0.0)


def basemap_origin(settings: Settings) -> str | None:
    """The basemap's origin for the Content-Security-Policy ('{s}' subdomains become a wildcard)."""
    if not settings.basemap_url:
        return None
    parts = urlsplit(settings.basemap_url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}" if parts.scheme and parts.netloc else None


def page_headers(settings: Settings, *, workers: bool = False) -> dict[str, str]:
    """Pages load only from this service (a configured basemap's images excepted), are never framed or cached shared.

    ``workers``: the page may start web workers from its own scripts and blobs (the API documentation's search)."""
    images = " ".join(filter(None, ["'self'", "data:", basemap_origin(settings)]))
    policy = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
              f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "form-action 'self'; frame-ancestors 'none'" + ("; worker-src 'self' blob:" if workers else ""))
    return {"Content-Security-Policy": policy, "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


# Paths whose answers are data for programs whatever the client asks: their errors stay JSON.
DATA_PATHS = ("/api/", "/tiles/", "/static/", "/healthz", "/readyz", "/openapi.json")


def answers_page(request: Request) -> bool:
    """An error on this request is shown as a page: a browser (an Accept header preferring HTML to JSON)
    asked for a page (not the API, tiles or files, and not an OGC document asked for as JSON with ?f=json).
    Programs, which accept JSON or anything, get the JSON body."""
    if request.url.path.startswith(DATA_PATHS) or request.query_params.get("f") in ("json", "geojson"):
        return False
    return prefers_html(request)


def render_brief(context: dict) -> str:
    """A community brief as a whole HTML document (the page, the PDF and the scheduled files are the same text)."""
    return templates.get_template("brief.html").render(context)


def error_page(request: Request, settings: Settings | None, status: int, message: str, *, heading: str,
               user: Principal | None = None, back: tuple[str, str] | None = None, request_id: str | None = None,
               headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """A refusal as a page a person reads (its heading, its reason in words, a way back), not a JSON body,
    under the pages' headers. ``back``: (address, words) of the page to go back to (default: the home page)."""
    return templates.TemplateResponse(
        request, "error.html",
        {"user": user, "heading": heading, "message": message, "request_id": request_id,
         "back_href": back[0] if back else None, "back_label": back[1] if back else None},
        status_code=status, headers={**(headers or {}), **(page_headers(settings) if settings is not None else {})})
