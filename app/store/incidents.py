"""Incidents: bulk load with COPY, duplicate checks, filtered keyset queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import text

from app.store.sql import BoundToSession, driver_connection, rows_changed
from spatial.incidents_io import IncidentBatch

COPY_COLUMNS = (
    "source", "external_id", "occurred_at", "reported_at", "category", "description",
    "lon", "lat", "h3_cell", "community_id", "attributes", "import_id",
)
COPY_SQL = f"COPY incidents ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"


@dataclass(frozen=True)
class IncidentFilter:
    """Filters for reading incidents; every field optional."""

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    community_id: int | None = None
    sources: tuple[str, ...] = ()


class Incidents(BoundToSession):
    """Reading incidents and removing an import's rows (portable SQL); a backend adds the
    source lock and the bulk writer."""

    def stored_external_ids(self, source: str) -> set[str]:
        """Every external id already stored for ``source`` (streamed; about 80 MB a million ids).

        Loaded once before an import's single COPY, since no other statement can run
        on the connection while a COPY is open.
        """
        result = self.session.execute(
            text("SELECT external_id FROM incidents WHERE source = :source"),
            {"source": source},
            execution_options={"stream_results": True, "yield_per": 50_000},
        )
        return set(result.scalars())

    def delete_import_rows(self, import_id: int) -> int:
        """Remove exactly the rows one import inserted; returns how many."""
        return rows_changed(self.session.execute(text("DELETE FROM incidents WHERE import_id = :id"), {"id": import_id}))

    def _where(self, filters: IncidentFilter) -> tuple[list[str], dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if filters.bbox is not None:
            clauses.append(self.sql.point_in_box())
            params.update(zip(("west", "south", "east", "north"), filters.bbox, strict=True))
        more_clauses, more_params = self.sql.window_and_lists(filters.start, filters.end,
                                                     category=filters.categories, source=filters.sources)
        clauses += more_clauses
        params.update(more_params)
        if filters.community_id is not None:
            clauses.append("community_id = :community_id")
            params["community_id"] = filters.community_id
        return clauses, params

    def list_incidents(self, filters: IncidentFilter, *, after_id: int | None, limit: int) -> list[dict[str, Any]]:
        """One page of incidents in id order, starting after ``after_id`` (keyset pagination)."""
        clauses, params = self._where(filters)
        if after_id is not None:
            clauses.append("id > :after_id")
            params["after_id"] = after_id
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = text(
            "SELECT id, source, external_id, occurred_at, reported_at, category, description, "
            "lon, lat, h3_cell, community_id, import_id "
            f"FROM incidents {where} ORDER BY id LIMIT :limit"
        )
        params["limit"] = limit
        return [dict(r._mapping) for r in self.session.execute(sql, params)]

    def count_incidents(self, filters: IncidentFilter) -> int:
        clauses, params = self._where(filters)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return int(self.session.execute(text(f"SELECT count(*) FROM incidents {where}"), params).scalar_one())


class PostgisIncidents(Incidents):
    """Advisory locks and one COPY per import."""

    def lock_source(self, source: str) -> None:
        """Serialise imports of one source, so duplicate checks cannot race; and hold off a boundary
        activation (which takes the same key exclusively) until the import has assigned communities."""
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('incidents:' || :source))"), {"source": source})
        self.session.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext('boundary-activation'))"))

    @contextmanager
    def incident_writer(self) -> Iterator[IncidentWriter]:
        """Open a COPY into ``incidents`` inside the session's transaction."""
        # Times are sent as UTC without an offset (cheap to format), so read them as UTC.
        self.session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
        driver = driver_connection(self.session)
        with driver.cursor() as cursor, cursor.copy(COPY_SQL, writer=QueuedLibpqWriter(cursor)) as copy:
            yield IncidentWriter(copy)


class IncidentWriter:
    """One COPY for a whole import, fed batch by batch.

    A queued writer sends each batch from a worker thread, so the database
    indexes one batch while Python reads and checks the next.
    """

    def __init__(self, copy) -> None:
        self._copy = copy

    def write(self, batch: IncidentBatch, *, source: str, import_id: int, community_id: np.ndarray | None) -> int:
        if len(batch) == 0:
            return 0
        self._copy.write(_copy_payload(batch, source, import_id, community_id))
        return len(batch)


def _copy_payload(batch: IncidentBatch, source: str, import_id: int, community_id: np.ndarray | None) -> bytes:
    """The batch as CSV for COPY: null as an unquoted empty field, times in UTC.

    Arrow's CSV writer is about seven times faster than ``DataFrame.to_csv``
    here, and writes floats exactly (shortest round-trip form).
    """
    n = len(batch)

    def strings(values) -> pa.Array:
        return pa.array(values, pa.string()) if values is not None else pa.nulls(n, pa.string())

    table = pa.table({
        "source": pa.array(np.full(n, source, dtype=object), pa.string()),
        "external_id": strings(batch.external_id),
        "occurred_at": _utc(batch.occurred_at),
        "reported_at": _utc(batch.reported_at) if batch.reported_at is not None else pa.nulls(n, pa.timestamp("us")),
        "category": strings(batch.category),
        "description": strings(batch.description),
        "lon": pa.array(batch.lon, pa.float64()),
        "lat": pa.array(batch.lat, pa.float64()),
        "h3_cell": pa.array(batch.h3_cell, pa.int64()),
        "community_id": pa.array(community_id, pa.int64(), from_pandas=True) if community_id is not None
        else pa.nulls(n, pa.int64()),
        "attributes": strings(batch.attributes),
        "import_id": pa.array(np.full(n, import_id, dtype=np.int64)),
    })
    out = pa.BufferOutputStream()
    pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue().to_pybytes()


def _utc(values: pd.Series) -> pa.Array:
    # Naive UTC: the COPY runs with the session time zone set to UTC.
    return pa.array(values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]"), pa.timestamp("us"))
