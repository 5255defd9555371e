"""The in-process worker that executes hotspot runs.

One background thread takes runs in order, each with its own database
session. With ``HOTSPOTS_ANALYSIS_WORKER=inline`` a run executes inside the
request that submits it (used by the tests, whose data lives in one
uncommitted transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from app.services import analyses

log = logging.getLogger(__name__)


class RunWorker:
    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], mode: str = "thread") -> None:
        self.sessions = sessions
        self.mode = mode
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspot-run") if mode == "thread" else None

    def start(self) -> None:
        """Fail runs a crash left 'running', then resume the queued ones."""
        with self.sessions() as session:
            failed, queued = analyses.recover_interrupted(session)
        if failed:
            log.warning("marked interrupted runs as failed: %s", failed)
        for run_id in queued:
            self.submit(run_id)

    def submit(self, run_id: int, session: Session | None = None) -> Future | None:
        if self._pool is None:
            if session is not None:
                analyses.execute(session, run_id)
            else:
                with self.sessions() as own:
                    analyses.execute(own, run_id)
            return None
        return self._pool.submit(self._run, run_id)

    def _run(self, run_id: int) -> None:
        with self.sessions() as session:
            analyses.execute(session, run_id)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
