"""The hotspot tile route's fast path: a pure ASGI layer in front of FastAPI for the common case.

A map asks for dozens of tiles a second. Through FastAPI each one resolves
its dependencies, hops to the thread pool several times and opens a sync
session; that costs more than drawing the tile. This layer answers
``GET /tiles/hotspots/{z}/{x}/{y}.mvt?run=ID`` itself when all it needs to
decide is already in memory:

- the principal, as the sign-in service remembers it (``SignIn.remembered_principal``:
  bearer token or session cookie), or the public when public access is on and nothing was sent;
- the run's facts, from the ``TileCache`` (a run some earlier request loaded),
  and the run visible to this audience (``Audience.sees_run``);

then it answers a 304 from the ETag, the tile from the ``TileCache``, or draws
it with the same queries (app/store/tiles_async.py) chosen by the same rules
(``app.services.tiles.hotspot_queries``) on an async connection: below
analyst inside a transaction that runs as the restricted database role
(``SET LOCAL ROLE``, so the role ends with the transaction).

Everything else — a token not yet checked, a cookie that does not verify, a
run not yet loaded or not visible, a bad address or ``run``, an address over
the failed sign-in limit, any other method — passes through untouched to the
FastAPI route, which answers exactly as before (and fills the caches for
next time). Nothing with a side effect happens before that decision, so a
request is never handled twice. Errors while drawing go to the app's own
exception handlers, so a 413 or a 503 with ``Retry-After`` reads the same
from both paths.
"""

from __future__ import annotations

import inspect
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.routes.tiles import CACHE_FINISHED_RUN, CACHE_FINISHED_RUN_RESTRICTED, _headers, _response
from app.auth.sign_in import SignIn, transaction_for
from app.db_async import AsyncPool
from app.errors import BadRequest
from app.privacy import Audience, audience_for
from app.security import role_allows
from app.services import tiles as tile_service
from app.services.tiles import FinishedRun, HotspotQuery, Tile, TileAddress
from app.store import tiles_async

PREFIX = "/tiles/hotspots/"
_PATH = re.compile(r"^/tiles/hotspots/([^/]+)/([^/]+)/([^/]+)\.mvt$")  # as FastAPI's route matches it
_RUN = re.compile(r"[1-9][0-9]{0,17}")


class HotspotTileFastPath:
    """ASGI middleware: serves hotspot tiles it can decide from memory, passes everything else on."""

    def __init__(self, app: ASGIApp, service: FastAPI) -> None:
        self.app = app
        self.service = service  # its state (settings, caches, limits, pool) is read per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(PREFIX):
            response = await self._answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope) -> Response | None:
        pool: AsyncPool | None = getattr(self.service.state, "tile_pool", None)
        match = _PATH.match(scope["path"]) if not scope.get("root_path") else None
        if pool is None or match is None:
            return None
        state = self.service.state
        try:
            at = tile_service.parse_tile_address(*match.groups())
        except BadRequest:
            return None
        run_id = _run_id(scope["query_string"])
        request = Request(scope)
        if run_id is None or len(request.headers.getlist("if-none-match")) > 1:
            return None
        principal = SignIn.for_app(state).remembered_principal(request)
        if principal is None or not role_allows(principal.role, "public"):
            return None
        audience = audience_for(principal, state.settings)
        cache: tile_service.TileCache = state.tile_cache
        run = cache.run(run_id)
        if run is None or not audience.sees_run(run.run):
            return None
        request.state.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        cache_control = CACHE_FINISHED_RUN if audience.raw else CACHE_FINISHED_RUN_RESTRICTED
        etag = tile_service.hotspot_etag(run.id, at, audience)
        if tile_service.etag_matches(request.headers.get("if-none-match"), etag):
            response = Response(status_code=304, headers=_headers(etag, cache_control))
        else:
            key = tile_service.hotspot_cache_key(run, at, audience)
            tile = cache.get(key)
            if tile is None:
                try:
                    content = await _draw(pool, run, at, audience)
                except Exception as exc:  # noqa: BLE001 - answered by the app's own handlers
                    return await self._error(request, exc)
                tile = Tile(content, etag, immutable=audience.raw)
                cache.put(key, tile)
            response = _response(tile, cache_control, None)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    async def _error(self, request: Request, exc: Exception) -> Response:
        """The response the app's exception handlers give (psycopg errors as SQLAlchemy wraps them)."""
        if isinstance(exc, psycopg.Error):
            exc = DBAPIError.instance(None, None, exc, psycopg.Error)
        handlers = self.service.exception_handlers
        kind = next(k for k in type(exc).__mro__ if k in handlers)
        answer = handlers[kind](request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        if kind is not Exception:  # as in the app: a 500 is answered outside the request-id middleware
            response.headers["X-Request-ID"] = request.state.request_id
        return response


def _run_id(query_string: bytes) -> int | None:
    """``run`` when it is given once, as a plain positive number (anything else: the route says why)."""
    runs = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k == "run"]
    if len(runs) != 1 or not _RUN.fullmatch(runs[0]):
        return None
    return int(runs[0])


async def _draw(pool: AsyncPool, run: FinishedRun, at: TileAddress, audience: Audience) -> bytes:
    async with pool.connection() as conn, transaction_for(conn, audience):
        return await _drive(conn, run, at, audience)


async def _drive(conn: psycopg.AsyncConnection, run: FinishedRun, at: TileAddress, audience: Audience) -> bytes:
    steps = tile_service.hotspot_queries(run, at, audience)
    try:
        query = next(steps)
        while True:
            query = steps.send(await _query(conn, run, at, query))
    except StopIteration as done:
        return done.value


async def _query(conn: psycopg.AsyncConnection, run: FinishedRun, at: TileAddress, query: HotspotQuery) -> Any:
    if query.kind == "scope":
        return await tiles_async.community_ids_named(conn, run.boundary_set_id, query.names or [])
    if query.kind == "cells":
        return await tiles_async.hotspot_cells_tile(conn, run.id, query.resolution, at.z, at.x, at.y,
                                                    tile_service.FEATURE_CAP + 1, kind=run.kind,
                                                    min_count=query.min_count, scope=query.scope)
    return await tiles_async.hotspot_parents_tile(conn, run.id, query.resolution, at.z, at.x, at.y,
                                                  tile_service.FEATURE_CAP + 1, kind=run.kind,
                                                  min_count=query.min_count)
