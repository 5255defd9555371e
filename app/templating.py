"""Server-rendered pages: the Jinja2 templates shipped in the package, and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.auth import Principal
from app.errors import ServiceError
from app.settings import Settings

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


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


def render_brief(context: dict) -> str:
    """A community brief as a whole HTML document (the page, the PDF and the scheduled files are the same text)."""
    return templates.get_template("brief.html").render(context)


def error_page(request: Request, settings: Settings, user: Principal | None, refused: ServiceError, *, heading: str,
               back: tuple[str, str] | None = None) -> HTMLResponse:
    """A refusal as a page a person reads (its status, its reason in words, a way back), not a JSON body.

    ``back``: (address, words) of the page to go back to."""
    return templates.TemplateResponse(
        request, "page_error.html",
        {"user": user, "heading": heading, "message": refused.message,
         "back_href": back[0] if back else None, "back_label": back[1] if back else None},
        status_code=refused.status_code, headers={**page_headers(settings), **(refused.headers or {})})
