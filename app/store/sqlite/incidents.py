"""Incidents on SQLite: batched INSERTs in the import's one transaction; lon/lat boxes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from sqlalchemy import text

from app.store.incidents import Incidents
from app.store.sql import driver_connection
from spatial.incidents_io import IncidentBatch

COLUMNS = ("source", "external_id", "occurred_at", "reported_at", "category", "description",
           "lon", "lat", "h3_cell", "community_id", "attributes", "import_id")
INSERT_SQL = (f"INSERT INTO incidents ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' for _ in COLUMNS)})")


class SQLiteIncidents(Incidents):
    """SQLite's write lock for the source lock; batched INSERTs for the writer."""

    def lock_source(self, source: str) -> None:
        """Imports and boundary activations run one after another, as the advisory locks make them on
        PostgreSQL: a writer's transaction begins with SQLite's one write lock (BEGIN IMMEDIATE); a write
        that changes nothing makes sure of it even on a connection that began as a reader."""
        self.session.execute(text("UPDATE boundary_sets SET id = id WHERE 0"))

    @contextmanager
    def incident_writer(self) -> Iterator[IncidentWriter]:
        yield IncidentWriter(driver_connection(self.session))


class IncidentWriter:
    """Inserts an import's batches on the session's connection, inside its transaction."""

    def __init__(self, connection) -> None:
        self._connection = connection

    def write(self, batch: IncidentBatch, *, source: str, import_id: int, community_id: np.ndarray | None) -> int:
        n = len(batch)
        if n == 0:
            return 0

        def texts(values) -> list:
            return [None] * n if values is None else [None if pd.isna(v) else str(v) for v in values]

        community = [None] * n if community_id is None else [None if pd.isna(v) else int(v) for v in community_id]
        rows = zip(
            [source] * n, texts(batch.external_id), _utc_text(batch.occurred_at, n), _utc_text(batch.reported_at, n),
            texts(batch.category), texts(batch.description), np.asarray(batch.lon, dtype=float).tolist(),
            np.asarray(batch.lat, dtype=float).tolist(), np.asarray(batch.h3_cell, dtype=np.int64).tolist(),
            community, texts(batch.attributes), [import_id] * n, strict=True,
        )
        self._connection.executemany(INSERT_SQL, rows)
        return n


def _utc_text(values: pd.Series | None, n: int) -> list:
    if values is None:
        return [None] * n
    stamps = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return [None if pd.isna(v) else v for v in stamps]
