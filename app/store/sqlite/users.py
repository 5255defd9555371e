"""Users on SQLite: noting a token's use never waits for the write lock."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.store.sql import driver_connection
from app.store.users import Accounts


class SQLiteAccounts(Accounts):
    """As ``Accounts``; only noting a token's use differs."""

    def touch_token(self, token_id: int) -> None:
        """Bookkeeping only: while an import or an analysis holds SQLite's one write lock, skip it rather
        than keep a request (and a worker thread) waiting for the lock."""
        raw = driver_connection(self.session)
        waited_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            with self.session.begin_nested():
                self.session.execute(text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id"),
                                     {"id": token_id})
        except OperationalError:
            pass
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(waited_ms)}")
