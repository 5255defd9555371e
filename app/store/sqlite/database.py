"""The database on SQLite: its version, and no roles."""

from __future__ import annotations

from app.store.database import Database


class SQLiteDatabase(Database):
    NAME = "sqlite"
    VERSION = "sqlite_version()"

    def _set_role(self, *, restricted: bool) -> None:
        """The embedded store has no roles: the service's own checks are the wall."""
