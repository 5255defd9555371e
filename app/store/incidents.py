"""Incidents: bulk load with COPY, duplicate checks, filtered keyset queries."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from spatial.incidents_io import IncidentBatch

COPY_COLUMNS = (
    "source", "external_id", "occurred_at", "reported_at", "category", "description",
    "geom", "h3_cell", "community_id", "attributes", "import_id",
)
COPY_SQL = f"COPY incidents ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"


def lock_source(session: Session, source: str) -> None:
    """Serialise imports of one source, so duplicate checks cannot race."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('incidents:' || :source))"), {"source": source})


def existing_external_ids(session: Session, source: str, external_ids: Sequence[str]) -> set[str]:
    """Which of these ids of ``source`` are already stored."""
    if len(external_ids) == 0:
        return set()
    rows = session.execute(
        text("SELECT external_id FROM incidents WHERE source = :source AND external_id = ANY(:ids)"),
        {"source": source, "ids": list(external_ids)},
    )
    return {r[0] for r in rows}


def copy_incidents(
    session: Session, batch: IncidentBatch, *, source: str, import_id: int, community_id: np.ndarray | None
) -> int:
    """Load a batch with PostgreSQL COPY inside the session's transaction."""
    if len(batch) == 0:
        return 0
    points = shapely.points(batch.lon, batch.lat)
    frame = pd.DataFrame({
        "source": source,
        "external_id": batch.external_id,
        "occurred_at": batch.occurred_at.to_numpy(),
        "reported_at": batch.reported_at.to_numpy() if batch.reported_at is not None else None,
        "category": batch.category,
        "description": batch.description,
        "geom": shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True),
        "h3_cell": batch.h3_cell,
        "community_id": pd.array(community_id, dtype="Int64") if community_id is not None else None,
        "attributes": batch.attributes,
        "import_id": import_id,
    })
    frame["occurred_at"] = batch.occurred_at.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00").to_numpy()
    if batch.reported_at is not None:
        frame["reported_at"] = batch.reported_at.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00").to_numpy()
    payload = frame.to_csv(header=False, index=False, na_rep="")
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
        copy.write(payload.encode("utf-8"))
    return len(frame)


@dataclass(frozen=True)
class IncidentFilter:
    """Filters for reading incidents; every field optional."""

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    community_id: int | None = None
    sources: tuple[str, ...] = ()


def _where(filters: IncidentFilter) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.bbox is not None:
        clauses.append("geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)")
        params.update(zip(("west", "south", "east", "north"), filters.bbox))
    if filters.start is not None:
        clauses.append("occurred_at >= :start")
        params["start"] = filters.start
    if filters.end is not None:
        clauses.append("occurred_at < :end")
        params["end"] = filters.end
    if filters.categories:
        clauses.append("category = ANY(:categories)")
        params["categories"] = list(filters.categories)
    if filters.community_id is not None:
        clauses.append("community_id = :community_id")
        params["community_id"] = filters.community_id
    if filters.sources:
        clauses.append("source = ANY(:sources)")
        params["sources"] = list(filters.sources)
    return clauses, params


def list_incidents(session: Session, filters: IncidentFilter, *, after_id: int | None, limit: int) -> list[dict[str, Any]]:
    """One page of incidents in id order, starting after ``after_id`` (keyset pagination)."""
    clauses, params = _where(filters)
    if after_id is not None:
        clauses.append("id > :after_id")
        params["after_id"] = after_id
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = text(
        "SELECT id, source, external_id, occurred_at, reported_at, category, description, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat, h3_cell, community_id, import_id "
        f"FROM incidents {where} ORDER BY id LIMIT :limit"
    )
    params["limit"] = limit
    return [dict(r._mapping) for r in session.execute(sql, params)]


def count_incidents(session: Session, filters: IncidentFilter) -> int:
    clauses, params = _where(filters)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return int(session.execute(text(f"SELECT count(*) FROM incidents {where}"), params).scalar_one())
