"""The in-process workers: the one that executes hotspot runs, and the one that writes scheduled briefs.

One background thread takes runs in order, each with its own database
session, and says every ``HEARTBEAT`` that it is alive. Several service
processes may share one database: at start-up, and every minute after, a
worker fails only the runs whose worker has stopped (see
``analyses.worker_gone``) and takes up queued runs nobody took. With
``HOTSPOTS_ANALYSIS_WORKER=inline`` a run executes inside the request that
submits it (used by the tests, whose data lives in one uncommitted
transaction).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.services import analyses
from app.services.brief_files import BriefFile, write_due_briefs
from app.settings import Settings
from app.store.backends import Backend, Store

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 60
BRIEFS_CHECK_EVERY_S = 3600  # a weekly or monthly slot is written within an hour of opening
QUEUED_UNTAKEN = timedelta(minutes=2)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


class RunWorker:
    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], backend: Backend,
                 mode: str = "thread") -> None:
        self.sessions = sessions
        self.backend = backend
        self.mode = mode
        self.host = socket.gethostname()
        self.name = f"{self.host}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspot-run") if mode == "thread" else None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Fail runs a stopped worker left 'running', resume the queued ones, and keep watching."""
        self._recover(queued_before=None)
        if self._pool is not None:
            threading.Thread(target=self._sweep, name="hotspot-run-sweeper", daemon=True).start()

    def _recover(self, queued_before: datetime | None) -> None:
        with self.sessions() as session:
            failed, queued = analyses.recover_interrupted(self.backend.bind(session), host=self.host,
                                                          alive=process_alive, queued_before=queued_before)
        if failed:
            log.warning("marked interrupted runs as failed: %s", failed)
        for run_id in queued:
            self.submit(run_id)

    def _sweep(self) -> None:
        while not self._stopping.wait(SWEEP_EVERY_S):
            try:
                self._recover(queued_before=datetime.now(UTC) - QUEUED_UNTAKEN)
            except Exception:  # the database may be away for a while; try again next time
                log.warning("checking for interrupted runs failed", exc_info=True)

    def submit(self, run_id: int, store: Store | None = None) -> Future | None:
        """Run it: inline (in ``store``'s session if given, as tests and the demo do), or on the worker thread."""
        if self._pool is None:
            if store is not None:
                analyses.execute(store, run_id, self.name)
            else:
                with self.sessions() as own:
                    analyses.execute(self.backend.bind(own), run_id, self.name)
            return None
        return self._pool.submit(self._run, run_id)

    def _run(self, run_id: int) -> None:
        done = threading.Event()
        threading.Thread(target=self._beat, args=(run_id, done), name=f"hotspot-run-{run_id}-heartbeat",
                         daemon=True).start()
        try:
            with self.sessions() as session:
                analyses.execute(self.backend.bind(session), run_id, self.name)
        finally:
            done.set()

    def _beat(self, run_id: int, done: threading.Event) -> None:
        while not done.wait(analyses.HEARTBEAT.total_seconds()):
            try:
                with self.sessions() as session:
                    analyses.heartbeat(self.backend.bind(session), run_id)
            except Exception:
                log.warning("heartbeat of run %s failed", run_id, exc_info=True)

    def stop(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class BriefScheduler:
    """Writes the community briefs due in the current week or month (``HOTSPOTS_BRIEFS_SCHEDULE``) to
    ``HOTSPOTS_BRIEFS_DIR``, checking at start-up and every hour after (app/services/brief_files.py)."""

    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], backend: Backend,
                 settings: Settings) -> None:
        self.sessions = sessions
        self.backend = backend
        self.settings = settings
        self._stopping = threading.Event()

    def start(self) -> None:
        if self.settings.briefs_schedule == "off":
            return
        threading.Thread(target=self._loop, name="brief-scheduler", daemon=True).start()

    def run_once(self) -> list[BriefFile]:
        """One pass: write every due brief (a slot already written is skipped)."""
        with self.sessions() as session:
            return write_due_briefs(self.backend.bind(session), self.settings)

    def _loop(self) -> None:
        while True:
            try:
                made = self.run_once()
                if made:
                    log.info("scheduled briefs: %d written, %d failed", sum(b.sha256 is not None for b in made),
                             sum(b.sha256 is None for b in made))
            except Exception:  # the database may be away for a while; try again next time
                log.warning("writing scheduled briefs failed", exc_info=True)
            if self._stopping.wait(BRIEFS_CHECK_EVERY_S):
                return

    def stop(self) -> None:
        self._stopping.set()
