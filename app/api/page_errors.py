"""Pages answer their refusals as pages: an unknown run, a pair that cannot be compared or a run the
reader may not see reaches a browser as an HTML page with the reason in words, not as raw JSON.

``PageRoute`` is the route class of a page router. A client that asks for JSON (an ``Accept`` header
preferring it to HTML) still gets the service's JSON error body, from the handlers in app/errors.py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app.errors import NotAuthenticated, ServiceError
from app.templating import page_headers, prefers_json, templates

TITLES = {400: "This request cannot be answered", 403: "Not allowed", 404: "Not found",
          409: "Not ready yet", 422: "This cannot be done", 429: "Too many requests"}


def error_page(request: Request, status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    """The HTML page of a refusal: its title, the reason in words and ways back."""
    return templates.TemplateResponse(
        request, "error.html", {"user": None, "title": TITLES.get(status, "This page cannot be shown"),
                                "reason": reason, "status": status},
        status_code=status, headers={**page_headers(request.app.state.settings), **(headers or {})})


def _validation_words(exc: RequestValidationError) -> str:
    problems = "; ".join(f"{e.get('loc', ('',))[-1]}: {e.get('msg', '')}" for e in exc.errors())
    return f"The address has a value that cannot be used ({problems}). Check the link and try again."


class PageRoute(APIRoute):
    """A page route whose refusals are HTML pages unless the client asked for JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except NotAuthenticated:  # a redirect to the sign-in page (a browser), else 401 with its header
                raise
            except ServiceError as exc:
                if prefers_json(request):
                    raise
                return error_page(request, exc.status_code, exc.message, exc.headers)
            except RequestValidationError as exc:
                if prefers_json(request):
                    raise
                return error_page(request, 422, _validation_words(exc))

        return answer
