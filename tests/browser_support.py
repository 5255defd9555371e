"""Real-browser checks: a committed throwaway database, the service under uvicorn, Debian's Chromium.

The rollback fixtures of conftest.py cannot be seen by another process, so the
browser tests (and bench/map_page.py) make a database of their own, load it
through the service functions, start the real service on 127.0.0.1 and a free
port, and drive /usr/bin/chromium with Playwright (never `playwright install`).
"""

from __future__ import annotations

from datetime import datetime

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("HOTSPOTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        return f"Chromium is not installed at {CHROMIUM} (scripts/ensure-browser.sh installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def scratch_database(base_url: str, name: str) -> Iterator[str]:
    """Create and migrate database ``name`` on ``base_url``'s server; drop it afterwards."""
    import psycopg
    from alembic import command

    from app.cli import alembic_config

    url = make_url(base_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = url.set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(target), "head")
        yield target
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def backend_database(backend: str, name: str, folder: Path) -> Iterator[str]:
    """A migrated scratch database of its own: on the test PostGIS server, or an embedded SQLite file."""
    if backend == "postgis":
        from tests.conftest import TEST_DATABASE_URL

        with scratch_database(TEST_DATABASE_URL, name) as url:
            yield url
        return
    from alembic import command

    from app.cli import alembic_config

    url = f"sqlite:///{folder / (name + '.sqlite')}"
    command.upgrade(alembic_config(url), "head")
    yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_service(database_url: str, static_dir: Path, environ: dict[str, str] | None = None,
                 **settings: str) -> Iterator[str]:
    """The real service under uvicorn on 127.0.0.1; yields its origin. Maps are saved under ``static_dir``.

    ``environ``: more environment variables for the service (e.g. its ``TMPDIR``)."""
    static_dir.mkdir(parents=True, exist_ok=True)
    vendor = static_dir / "vendor"
    if not vendor.exists():
        vendor.symlink_to(ROOT / "static" / "vendor", target_is_directory=True)
    port = free_port()
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": database_url, "HOTSPOTS_STATIC_DIR": str(static_dir),
           "HOTSPOTS_ENVIRONMENT": "test", "HOTSPOTS_SECRET_KEY": os.urandom(16).hex(),
           **{f"HOTSPOTS_{k.upper()}": v for k, v in settings.items()}, **(environ or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{origin}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the service did not start") from None
                time.sleep(0.2)
        yield origin
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """What a page did: console errors, uncaught errors, failed requests, every URL it asked for."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def attach(self, page) -> "PageWatch":
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(f"{m.text} @ {m.location}"))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("request", lambda r: self.requested.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"))
        return self

    @property
    def outside(self) -> list[str]:
        return [u for u in self.requested if not (u.startswith(self.origin + "/") or u.startswith("data:")
                                                  or u.startswith(f"blob:{self.origin}/"))]


def load_kna_run(database_url: str, *, incidents: int = 6000, permutations: int = 99, seed: int = 2026) -> dict:
    """KNA parishes, SYNTHETIC incidents and one completed (police) run, through the service functions; an analyst token."""
    from app.cli import SAMPLE_ATTRIBUTION, SAMPLE_BOUNDARIES
    from app.db import make_engine, make_sessionmaker
    from app.services import analyses, run_results
    from app.services.accounts import create_user_with_token
    from app.services.boundaries import BoundaryOptions, upload_boundary_set
    from app.services.demo import add_synthetic_figures
    from app.services.incident_import import import_incidents
    from app.settings import Settings
    from app.store.backends import backend_for
    from spatial.incidents_io import ReadOptions
    from spatial.synthetic import write_synthetic_csv

    settings = Settings(database_url=database_url, statement_timeout_ms=0)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            store = backend_for(engine).bind(session)
            upload_boundary_set(store, SAMPLE_BOUNDARIES, original_name=SAMPLE_BOUNDARIES.name,
                                options=BoundaryOptions(name="KNA parishes", attribution=SAMPLE_ATTRIBUTION,
                                                        activate=True),
                                service_area=None, max_bytes=settings.max_upload_bytes)
            store.session.commit()
            csv_path = ROOT / "tests" / "artifacts" / f"synthetic-{incidents}-{seed}.csv"
            write_synthetic_csv(csv_path, incidents, seed)
            import_incidents(store, csv_path, filename="SYNTHETIC incidents", source="SYNTHETIC",
                             options=ReadOptions(timezone=settings.zone))
            store.session.commit()
            add_synthetic_figures(store, seed)  # made-up populations and an indicator, for the rates pages
            run_id = analyses.submit(store, analyses.AnalysisRequest(resolution=9, permutations=permutations,
                                                                       seed=seed),
                                     settings=settings, user_id=None)
            analyses.execute(store, run_id)
            run = run_results.visible_run(store, run_id)
            assert run.status == "completed", run
            # An emerging hot spot run over the synthetic year, in monthly steps.
            emerging_id = analyses.submit(store, analyses.AnalysisRequest(
                kind="emerging", step="month", resolution=8, seed=seed,
                start=datetime(2025, 1, 1), end=datetime(2026, 1, 1)), settings=settings, user_id=None)
            analyses.execute(store, emerging_id)
            emerging = run_results.visible_run(store, emerging_id)
            assert emerging.status == "completed", emerging
            token = create_user_with_token(store, "browser-analyst", "analyst")
            return {"run_id": run_id, "cells": run.provenance.cells, "token": token,
                    "emerging_run_id": emerging_id, "emerging_cells": emerging.provenance.cells,
                    "emerging_timings": emerging.provenance.document["timings_s"]}
    finally:
        engine.dispose()
