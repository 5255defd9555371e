"""Checks that need no request body, made before the body is read.

A NUL character in the path or query string is refused here, once for every route.

FastAPI reads (and spools to disk) a multipart body before it runs any dependency, so a
150 MB upload without a token would be written in full before the 401. This ASGI middleware
runs first: for an upload route it refuses a ``Content-Length`` over the limit and checks the
token and role before a byte of the body is read; for every request it cuts a body off at its
limit while it streams in (a chunked body has no ``Content-Length`` to check).

With ``HOTSPOTS_PUBLIC_URL`` set, the request's scheme and ``Host`` are replaced by the public
URL's, so every absolute URL the service builds (``Location``, TileJSON ``tiles``, ``next``
links) names the service, never whatever ``Host`` a client sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Forbidden, ServiceError, error_body
from app.security import role_allows

# Any other body (JSON for an analysis, a sign-in form) is small.
MAX_OTHER_BODY_BYTES = 1024 * 1024
# A multipart body carries the file plus its form fields and boundaries.
MULTIPART_SLACK_BYTES = 64 * 1024


# Routes that take a file, with the least role each needs. A test holds this table to the
# OpenAPI schema (every multipart route is here) and to the routes' own role checks.
UPLOAD_ROLES = {
    "/api/v1/incidents/imports": "analyst",
    "/api/v1/boundary-sets": "gis",
}


class RequestGuard:
    """Size and sign-in checks before the body is read; the public URL in place of ``Host``."""

    def __init__(self, app: ASGIApp, service: FastAPI) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.service.state.settings
        if settings.public_url:
            _use_public_url(scope, settings.public_url)
        if _has_nul(scope):
            await JSONResponse(error_body(
                "The address of this request contains a NUL character (%00), which no name, filter or id "
                "can hold. Remove it and try again."), status_code=400, headers={"Connection": "close"})(scope, receive, send)
            return
        upload_role = self._upload_role(scope)
        upload = upload_role is not None
        limit = settings.max_upload_bytes + MULTIPART_SLACK_BYTES if upload else MAX_OTHER_BODY_BYTES
        if upload_role is not None:  # who is asking comes first: a stranger learns nothing, not even the limit
            refusal = await run_in_threadpool(self._sign_in_refusal, scope, upload_role)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(settings.max_upload_bytes if upload else limit, upload)(scope, receive, send)
            return
        await self._limited(scope, receive, send, limit, upload)

    @staticmethod
    def _upload_role(scope: Scope) -> str | None:
        if scope["method"] != "POST":
            return None
        return UPLOAD_ROLES.get(scope["path"].rstrip("/") or "/")

    def _sign_in_refusal(self, scope: Scope, role: str) -> JSONResponse | None:
        """The answer for a caller who may not upload here, or None (checked again by the route)."""
        from app.api.deps import get_principal, get_session, get_store  # deps imports the app's errors and store

        request = Request(scope)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        credentials = (HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
                       if scheme.lower() == "bearer" and token.strip() else None)
        sessions = get_session(request)
        session = next(sessions)
        try:
            principal = get_principal(request, get_store(request, session), credentials)
            if not role_allows(principal.role, role):
                raise Forbidden(f"This needs the '{role}' role or higher; your role is '{principal.role}'.")
        except ServiceError as refused:
            headers = {**(refused.headers or {}), "Connection": "close"}  # the body is never read
            if refused.status_code == 401:
                headers["WWW-Authenticate"] = "Bearer"
            return JSONResponse(error_body(refused.message, refused.details), status_code=refused.status_code,
                                headers=headers)
        finally:
            sessions.close()
        return None

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Tell the app the client went away: it stops reading, and its answer is dropped.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            shown = limit - MULTIPART_SLACK_BYTES if upload else limit
            await _too_large(shown, upload)(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(limit: int, upload: bool) -> JSONResponse:
    if upload:
        message = (f"The upload is larger than the upload limit of {limit // (1024 * 1024)} MB, so it was "
                   "refused before it was read. Split or simplify the file and upload again.")
    else:
        message = f"The request body is larger than {limit // 1024} KB, so it was refused."
    return JSONResponse(error_body(message, {"limit_bytes": limit}), status_code=413,
                        headers={"Connection": "close"})


def _use_public_url(scope: Scope, public_url: str) -> None:
    """Answer as the public URL: its scheme and host replace the request's."""
    public = urlsplit(public_url)
    scope["scheme"] = public.scheme
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"host", b"x-forwarded-host")]
    headers.append((b"host", public.netloc.encode("latin-1")))
    scope["headers"] = headers
    port = public.port or (443 if public.scheme == "https" else 80)
    scope["server"] = (public.hostname, port)
