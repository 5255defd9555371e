"""Domain errors and the one place they become HTTP responses.

5xx bodies carry a request id and never internal text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from spatial.errors import InvalidUpload, SpatialInputError, UploadTooLarge

log = logging.getLogger(__name__)


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class BadRequest(ServiceError):
    status_code = 400


class NotAuthenticated(ServiceError):
    status_code = 401


class SignInRequired(NotAuthenticated):
    """A browser page without a session: redirect to the sign-in page (API routes answer 401)."""

    status_code = 303

    def __init__(self, location: str) -> None:
        super().__init__("Sign in to see this page.")
        self.location = location


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Unprocessable(ServiceError):
    """Well-formed, but not something the service may do (a shared run off the publication calendar)."""

    status_code = 422


class PrintingUnavailable(ServiceError):
    """A PDF was asked for, but this server cannot print (no headless Chromium installed)."""

    status_code = 503


class TooManyRequests(ServiceError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"
# A value too big for an index row (a 9 KB name in an indexed column).
PROGRAM_LIMIT_EXCEEDED = "54000"
VALUE_NOT_USABLE = ("A value in this request cannot be used: a number is out of range, or a text contains a NUL "
                    "character or an invalid character, or is far too long. Correct it and try again.")

STATUS_FOR_SPATIAL: dict[type[SpatialInputError], int] = {UploadTooLarge: 413, InvalidUpload: 422}


def error_body(message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of every refusal: {"error": {"message": ..., "details": ...}}."""
    body: dict[str, Any] = {"error": {"message": message}}
    if details is not None:
        body["error"]["details"] = details
    body["error"].update(extra)
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        headers = exc.headers
        if isinstance(exc, NotAuthenticated):
            headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
        return answer(request, error_body(exc.message, exc.details), exc.status_code, headers)

    @app.exception_handler(SpatialInputError)
    async def _spatial(request: Request, exc: SpatialInputError) -> Response:
        status = next((s for cls, s in STATUS_FOR_SPATIAL.items() if isinstance(exc, cls)), 422)
        return answer(request, error_body(exc.message, exc.details), status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        from app.templating import answers_page

        if answers_page(request):  # a page's address with a value that is not usable: say which, in words
            where = "; ".join(f"{p['where'].rpartition('.')[2]}: {p['problem']}" for p in problems)
            return answer(request, error_body(f"This address has a value that cannot be used ({where})."), 422)
        return answer(request, error_body("Some parameters are not valid.", problems), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(request, error_body(str(exc.detail)), exc.status_code, exc.headers)

    @app.exception_handler(DataError)
    async def _bad_value(request: Request, exc: DataError) -> Response:
        # The database refused a value from the request (NUL byte, number or date out of range).
        log.info("value refused by the database on %s: %s", request.url.path, type(exc.orig).__name__)
        return answer(request, error_body(VALUE_NOT_USABLE), 422)

    @app.exception_handler(UnicodeEncodeError)
    async def _bad_text(request: Request, exc: UnicodeEncodeError) -> Response:
        # A JSON "\ud800" escape decodes to a lone surrogate, which no database can store.
        return answer(request, error_body(VALUE_NOT_USABLE, {"problem": "invalid character (a lone \\u escape)"}),
                      422)

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: OverflowError) -> Response:
        # A time past year 9999 once converted to UTC, an id too big for the embedded store.
        return answer(request, error_body(VALUE_NOT_USABLE, {"problem": "out of range"}), 422)

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> Response:
        if getattr(exc.orig, "sqlstate", None) == PROGRAM_LIMIT_EXCEEDED:
            return answer(request, error_body(VALUE_NOT_USABLE, {"problem": "too long"}), 422)
        if getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED:
            log.warning("statement timeout on %s", request.url.path)
            message = "The database took too long to answer this request. Narrow it (a smaller area or period)."
        elif "database is locked" in str(exc.orig):  # the embedded store: another change is being written
            log.warning("embedded database busy on %s", request.url.path)
            message = "The database is busy with another change (an import or an analysis). Try again shortly."
        else:
            log.warning("database unavailable: %s", exc.__class__.__name__)
            message = "The database is not reachable right now. Try again shortly."
        return answer(request, error_body(message, request_id=_request_id(request)), 503, {"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        return _internal(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _internal(request, exc)


# The heading of an error page, by status: what happened, in a planner's words.
PAGE_HEADINGS = {400: "This request cannot be used", 401: "Sign in to see this page", 403: "Not allowed",
                 404: "Not found", 405: "Not possible here", 409: "Not possible now", 413: "Too large",
                 422: "Some values cannot be used", 429: "Too many requests",
                 503: "Not available right now"}


def answer(request: Request, body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A refusal as JSON (the API, tiles, programs) or, to a browser asking for a page, as an HTML page with the
    same words, under the pages' Content-Security-Policy."""
    from app.templating import answers_page, error_page  # the pages module imports this one: imported here

    if not answers_page(request):
        return JSONResponse(body, status_code=status, headers=_varies(request, headers))
    error = body["error"]
    heading = PAGE_HEADINGS.get(status, "Something went wrong" if status >= 500 else "This request cannot be used")
    return error_page(request, getattr(request.app.state, "settings", None), status, error["message"],
                      heading=heading, request_id=error.get("request_id"), headers=_varies(request, headers))


def _varies(request: Request, headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """A page's refusal is HTML or JSON by the Accept header: say so to caches, and keep it private."""
    from app.templating import DATA_PATHS

    if request.url.path.startswith(DATA_PATHS):
        return headers
    vary = ", ".join(dict.fromkeys(v.strip() for v in ((headers or {}).get("Vary", "") + ",Accept").split(",")
                                   if v.strip()))
    return {"Cache-Control": "private, no-cache", **(headers or {}), "Vary": vary}


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex


def _internal(request: Request, exc: Exception) -> Response:
    request_id = _request_id(request)
    log.error("unhandled error, request %s", request_id, exc_info=exc)
    return answer(request, error_body("Something went wrong on our side. Quote this request id when reporting it.",
                                      request_id=request_id), 500)
