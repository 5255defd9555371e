"""Server-rendered pages: the Jinja2 templates shipped in the package, and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app.settings import Settings

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


def prefers_json(request: Request, json_types: tuple[str, ...] = JSON_TYPES) -> bool:
    """Whether the Accept header asks for JSON more than for text/html (an API client, not a browser)."""
    weights = accept_weights(request)
    return max((weights.get(t, 0.0) for t in json_types), default=0.0) > weights.get("text/html", 0.0)


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
