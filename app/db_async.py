"""A small async PostgreSQL connection pool for the tile fast path (app/api/tile_fast_path.py).

It behaves like the sync engine's pool (app/db.py): connections are made on
demand, nothing connects at start-up, no pre-ping; a connection that broke or
was left inside a transaction is dropped instead of reused. Unlike
``psycopg_pool`` it fails fast: with the database down, a request gets the
connection error at once (a 503) instead of waiting for a background
reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import make_url

from app.settings import Settings


def libpq_dsn(database_url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPool:
    """At most ``size`` autocommit connections; idle ones are kept for reuse."""

    def __init__(self, dsn: str, size: int, statement_timeout_ms: int | None) -> None:
        self.dsn = dsn
        self.size = size
        self.statement_timeout_ms = statement_timeout_ms
        self._idle: list[AsyncConnection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    @classmethod
    def for_settings(cls, settings: Settings, size: int = 10) -> AsyncPool:
        return cls(libpq_dsn(settings.database_url), size, settings.statement_timeout_ms)

    async def _connect(self) -> AsyncConnection:
        conn = await AsyncConnection.connect(self.dsn, autocommit=True)
        if self.statement_timeout_ms:
            await conn.execute(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
        return conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                if (self._closed or conn.closed or conn.broken
                        or conn.info.transaction_status != TransactionStatus.IDLE):
                    await conn.close()
                else:
                    self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
