"""The application factory: ``create_app(settings)`` builds the service; nothing connects at import."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.api.routes import (analyses, audit, boundaries, briefs, categories, communities, compare, docs, figures,
                            health, incidents, interventions, maps, ogc, pages, printing, sensitive_terms, tiles, trends,
                            users)
from app.api.tile_fast_path import HotspotTileFastPath
from app.db import RequestSessions, make_engine
from app.db_async import AsyncPool
from app.errors import install_error_handlers
from app.jobs import BriefScheduler, RunWorker
from app.api.static_assets import VendorAssets
from app.ratelimit import PrincipalCache, RateLimiter, SignInLimits
from app.request_guard import RequestGuard
from app.services import sensitive_categories
from app.services.tiles import TileCache
from app.settings import Settings
from app.store.backends import Backend, backend_for
from app.store.sqlite.audit_writer import flush_all as flush_audit_entries
from spatial.file_guard import gdal_offline
from spatial.uploads import remove_stale_workspaces

log = logging.getLogger(__name__)


def publish_privacy_rules(sessions, backend: Backend, settings: Settings) -> None:
    """The database's own disclosure rules (k, hold-back, terms) follow the settings, before any request.

    Read first: on SQLite a writing session waits for the one write lock, which another process
    (or a test's open transaction) may hold while nothing needs writing. A database that is down
    or not migrated yet does not stop the service starting (/readyz says so); the database keeps
    the rules it last had until the next start."""
    try:
        with sessions(read_only=True) as session:
            if not sensitive_categories.settings_pending(backend.bind(session), settings):
                return
        with sessions() as session:
            sensitive_categories.sync_settings(backend.bind(session), settings)
            session.commit()
    except (OperationalError, ProgrammingError) as exc:
        log.error("privacy rules not written to the database (%s); it keeps the rules it last had",
                  exc.__class__.__name__)


def create_app(settings: Settings | None = None, *, engine=None, start_worker: bool = True,
               fast_tiles: bool | None = None) -> FastAPI:
    """Build the service. ``engine`` lets tests share one connection-bound engine.

    ``fast_tiles``: serve hotspot tiles through the async fast path (app/api/tile_fast_path.py).
    Only on PostgreSQL; by default when the app owns its engine (its own pool could not see the
    uncommitted data of a test's shared connection).
    """
    settings = settings or Settings()
    gdal_offline()  # no file or coordinate system ever makes GDAL or PROJ go on the network
    if fast_tiles is None:
        fast_tiles = engine is None
    fast_tiles = fast_tiles and settings.database_url.startswith("postgresql")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        if settings.embedded and settings.environment == "production":
            log.warning("running on the embedded SQLite store (%s): one writer at a time and no restricted "
                        "database role; use PostGIS for police data in production (README: 'When to move "
                        "to PostGIS')", settings.database_url)
        removed = remove_stale_workspaces()
        if removed:
            log.info("removed %d upload folders left by stopped processes", len(removed))
        app.state.engine = engine or make_engine(settings)
        app.state.sessionmaker = RequestSessions(app.state.engine)
        app.state.backend = backend_for(app.state.engine)  # PostGIS or the embedded store, once
        publish_privacy_rules(app.state.sessionmaker, app.state.backend, settings)
        # Objects alive at start-up (modules, schemas) never need collecting: keep them out of
        # the garbage collector's way, which trims the slowest requests.
        if settings.environment != "test":  # tests build many apps in one process
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000, 20, 20)  # fewer young-generation passes under a burst of requests
        app.state.run_worker = RunWorker(app.state.sessionmaker, app.state.backend, settings.analysis_worker)
        app.state.brief_scheduler = BriefScheduler(app.state.sessionmaker, app.state.backend, settings)
        if start_worker:
            app.state.run_worker.start()
            app.state.brief_scheduler.start()
        if fast_tiles:
            app.state.tile_pool = AsyncPool.for_settings(settings)  # connects on first use
        try:
            yield
        finally:
            app.state.run_worker.stop()
            app.state.brief_scheduler.stop()
            if settings.embedded:
                flush_audit_entries()
            if fast_tiles:
                await app.state.tile_pool.close()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="Hotspots",
        summary="Crime-hotspot mapping: incidents, community boundaries, Gi* and Moran's I on an H3 grid.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by app/api/routes/docs.py with local assets (FastAPI's load from a CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    # Who holds a token, remembered for a few seconds so a burst of tile requests needs no query.
    app.state.principals = PrincipalCache(settings.auth_cache_s)
    app.state.limits = {
        "failed_auth": SignInLimits(settings.failed_auth_limit, settings.failed_auth_address_limit,
                                    settings.failed_auth_window_s),
        "heavy": RateLimiter(settings.heavy_requests_per_minute, 60),
    }
    app.state.tile_cache = TileCache(settings.tile_cache_mb * 1024 * 1024)
    app.state.run_extents = {}  # completed runs' extents for /ogc (app/services/ogc_features.py)

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        request.state.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    install_error_handlers(app)
    if fast_tiles:  # outside the request-id middleware: it sets X-Request-ID itself
        app.add_middleware(HotspotTileFastPath, service=app)
    app.add_middleware(RequestGuard, service=app)  # outermost: before any body is read
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(incidents.router)
    app.include_router(boundaries.router)
    app.include_router(figures.router)  # before /communities/{community_id}
    app.include_router(communities.router)
    app.include_router(trends.router)
    app.include_router(analyses.router)
    app.include_router(interventions.router)
    app.include_router(compare.router)
    app.include_router(categories.router)
    app.include_router(users.router)
    app.include_router(sensitive_terms.router)
    app.include_router(audit.router)
    app.include_router(ogc.router)
    app.include_router(maps.router)
    app.include_router(briefs.router)
    app.include_router(pages.router)
    app.include_router(compare.pages)
    app.include_router(printing.router)
    # Only the front-end assets are public; saved maps are served through /maps/... behind sign-in.
    app.mount("/static/vendor", VendorAssets(directory=settings.static_dir / "vendor", check_dir=False), name="vendor")
    app.include_router(tiles.router)
    return app
