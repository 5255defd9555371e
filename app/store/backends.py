"""The two store backends, and the ``Store`` a request (or a job, or a command) works through.

A ``Backend`` names one implementation of each protocol of ``app.store.protocols``;
it is chosen once, from the engine's database, where the engine is made
(``lifespan``, the CLI, the job worker), and binds each session to a ``Store``.
This module is the only place that asks which database is underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.store.audit import PostgisAuditLog
from app.store.briefs import Briefs
from app.store.communities import PostgisBoundaries
from app.store.database import PostgisDatabase
from app.store.disclosure import Disclosure
from app.store.figures import Figures
from app.store.hotspots import PostgisRuns
from app.store.imports import Imports
from app.store.incidents import PostgisIncidents
from app.store.interventions import Interventions
from app.store.maps import PostgisMaps
from app.store.protocols import (
    AccountStore, AuditStore, BoundaryStore, BriefStore, DatabaseStore, DisclosureStore, FigureStore, ImportStore,
    IncidentStore, InterventionStore, MapStore,
    RunCountStore, RunStore, TileStore,
)
from app.store.run_counts import RunCounts
from app.store.sql import PostgisSql, SqlDialect
from app.store.sqlite.audit import SQLiteAuditLog
from app.store.sqlite.communities import SQLiteBoundaries
from app.store.sqlite.database import SQLiteDatabase
from app.store.sqlite.hotspots import SQLiteRuns
from app.store.sqlite.incidents import SQLiteIncidents
from app.store.sqlite.maps import SQLiteMaps
from app.store.sqlite.sql import SQLiteSql
from app.store.sqlite.tiles import SQLiteTiles
from app.store.sqlite.users import SQLiteAccounts
from app.store.tiles import PostgisTiles
from app.store.users import Accounts


@dataclass(frozen=True)
class Backend:
    """One database's implementation of every store protocol (each made from a session and the dialect)."""

    name: str
    sql: SqlDialect
    incidents: Callable[[Session, SqlDialect], IncidentStore]
    boundaries: Callable[[Session, SqlDialect], BoundaryStore]
    runs: Callable[[Session, SqlDialect], RunStore]
    counts: Callable[[Session, SqlDialect], RunCountStore]
    tiles: Callable[[Session, SqlDialect], TileStore]
    maps: Callable[[Session, SqlDialect], MapStore]
    imports: Callable[[Session, SqlDialect], ImportStore]
    accounts: Callable[[Session, SqlDialect], AccountStore]
    audit: Callable[[Session, SqlDialect], AuditStore]
    disclosure: Callable[[Session, SqlDialect], DisclosureStore]
    figures: Callable[[Session, SqlDialect], FigureStore]
    interventions: Callable[[Session, SqlDialect], InterventionStore]
    briefs: Callable[[Session, SqlDialect], BriefStore]
    database: Callable[[Session, SqlDialect], DatabaseStore]

    def bind(self, session: Session) -> Store:
        """The store working through ``session``."""
        return Store(self, session)


class Store:
    """The store bound to one session: ``store.runs.cell_page(...)``; ``store.session`` commits or
    rolls back everything done through it."""

    def __init__(self, backend: Backend, session: Session) -> None:
        self.backend = backend
        self.session = session
        sql = backend.sql
        self.incidents = backend.incidents(session, sql)
        self.boundaries = backend.boundaries(session, sql)
        self.runs = backend.runs(session, sql)
        self.counts = backend.counts(session, sql)
        self.tiles = backend.tiles(session, sql)
        self.maps = backend.maps(session, sql)
        self.imports = backend.imports(session, sql)
        self.accounts = backend.accounts(session, sql)
        self.audit = backend.audit(session, sql)
        self.disclosure = backend.disclosure(session, sql)
        self.figures = backend.figures(session, sql)
        self.interventions = backend.interventions(session, sql)
        self.briefs = backend.briefs(session, sql)
        self.database = backend.database(session, sql)


POSTGIS = Backend(
    name="postgis", sql=PostgisSql(), incidents=PostgisIncidents, boundaries=PostgisBoundaries, runs=PostgisRuns,
    counts=RunCounts, tiles=PostgisTiles, maps=PostgisMaps, imports=Imports, accounts=Accounts,
    audit=PostgisAuditLog, disclosure=Disclosure, figures=Figures, interventions=Interventions, briefs=Briefs, database=PostgisDatabase,
)
SQLITE = Backend(
    name="sqlite", sql=SQLiteSql(), incidents=SQLiteIncidents, boundaries=SQLiteBoundaries, runs=SQLiteRuns,
    counts=RunCounts, tiles=SQLiteTiles, maps=SQLiteMaps, imports=Imports, accounts=SQLiteAccounts,
    audit=SQLiteAuditLog, disclosure=Disclosure, figures=Figures, interventions=Interventions, briefs=Briefs, database=SQLiteDatabase,
)


def backend_for(engine: Engine) -> Backend:
    """The backend of an engine's database: the embedded SQLite store, or PostGIS."""
    return SQLITE if engine.dialect.name == "sqlite" else POSTGIS
