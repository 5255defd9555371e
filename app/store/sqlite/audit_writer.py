"""Audit entries of read-only requests on the embedded store, written by one background thread.

A read (an incident query, an export) is audited, but on SQLite writing the
entry needs the one write lock, which an import may hold for a long time. The
request queues its entry (stamped with the time of the request) and answers;
this thread writes the entries in order as soon as the lock is free. Entries
still queued when the service stops are written first (``flush_all``); a
crash loses at most the entries of the last moments of reading.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10_000  # beyond this a request waits for room rather than an entry being dropped


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pending: queue.Queue[Executable] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.thread = threading.Thread(target=self._write_forever, name="audit-writer", daemon=True)
        self.thread.start()

    def put(self, entry: Executable) -> None:
        self.pending.put(entry)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued entry is written; False if that took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self.pending.all_tasks_done:
            while self.pending.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.pending.all_tasks_done.wait(left)
        return True

    def _write_forever(self) -> None:
        while True:
            entry = self.pending.get()
            while True:
                try:
                    with self.engine.connect() as connection, connection.begin():
                        connection.execute(entry)
                    break
                except OperationalError as exc:  # busy past the timeout: keep the entry, try again
                    log.warning("audit entry waiting for the database: %s", exc.orig)
                    time.sleep(1)
            self.pending.task_done()


_writers: dict[int, AuditWriter] = {}
_lock = threading.Lock()


def writer_for(engine: Engine) -> AuditWriter:
    with _lock:
        writer = _writers.get(id(engine))
        if writer is None or writer.engine is not engine:
            writer = _writers[id(engine)] = AuditWriter(engine)
        return writer


def flush_all(timeout_s: float = 30) -> None:
    for writer in list(_writers.values()):
        if not writer.flush(timeout_s):
            log.error("audit entries still queued at shutdown: %s", writer.pending.unfinished_tasks)
