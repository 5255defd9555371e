"""Hotspot runs: queue state, stored cell results, rankings."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import bindparam, text

from app.runs import Run
from app.store import kind_sql
from app.store.sql import BoundToSession, driver_connection, rows_changed
from models.types import JSONDocument
from spatial.kinds.base import CellColumns
from spatial.kinds import DEFAULT_KIND, AnalysisKind, kind_named

Box = tuple[float, float, float, float]  # west, south, east, north in degrees

RUN_COLUMNS = ("id, kind, status, progress, stage, audience, parameters, seed, boundary_set_id, created_by, "
               "created_at, started_at, finished_at, error, provenance, data_changed_at, data_changed")


class Runs(BoundToSession, ABC):
    """Hotspot runs and their cells: the portable SQL; a backend adds how runs covering communities
    are found, how cells are stored, and how a cell's hexagon and centre are read."""

    def create_run(self, *, parameters: dict[str, Any], seed: int, boundary_set_id: int,
                   user_id: int | None, audience: str = "police", kind: str = DEFAULT_KIND) -> int:
        return int(self.session.execute(
            text(
                "INSERT INTO hotspot_runs (kind, parameters, seed, boundary_set_id, created_by, stage, audience) "
                "VALUES (:kind, :parameters, :seed, :set_id, :user_id, 'queued', :audience) RETURNING id"
            ).bindparams(bindparam("parameters", type_=JSONDocument)),
            {"parameters": json.loads(json.dumps(parameters, default=str)), "seed": seed, "set_id": boundary_set_id,
             "user_id": user_id, "audience": audience, "kind": kind_named(kind).name},
        ).scalar_one())

    def get_run(self, run_id: int) -> Run | None:
        """The run with this id, or None."""
        row = self.session.execute(text(f"SELECT {RUN_COLUMNS} FROM hotspot_runs WHERE id = :id"),
                                   {"id": run_id}).first()
        return Run.from_row(dict(row._mapping)) if row else None

    def list_runs(self, *, limit: int, before_id: int | None = None,
                  shared_up_to_resolution: int | None = None,
                  covering_any_of: list[str] | None = None) -> list[Run]:
        """Runs, newest first; with ``shared_up_to_resolution`` only shared runs that coarse or coarser;
        with ``covering_any_of`` only runs of all communities or of at least one of these."""
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if covering_any_of is not None:
            clause, more = self._covering(covering_any_of)
            clauses.append(clause)
            params.update(more)
        if before_id is not None:
            clauses.append("id < :before")
            params["before"] = before_id
        if shared_up_to_resolution is not None:
            clauses.append(f"audience = 'shared' AND {self.sql.json_int('parameters', 'resolution')} <= :max_resolution")
            params["max_resolution"] = shared_up_to_resolution
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.session.execute(
            text(
                "SELECT id, kind, status, progress, stage, audience, parameters, seed, boundary_set_id, created_at, "
                f"finished_at, error, data_changed_at, data_changed, "
                f"{self.sql.json_flag('provenance', 'synthetic')} AS synthetic "
                f"FROM hotspot_runs {where} ORDER BY id DESC LIMIT :limit"
            ),
            params,
        )
        return [Run.from_row({**r._mapping, "synthetic": bool(r.synthetic)}) for r in rows]

    def claim_run(self, run_id: int, worker: str | None = None) -> bool:
        """Move a queued run to running for ``worker``; False if another worker took it or it is gone."""
        result = self.session.execute(
            text(
                "UPDATE hotspot_runs SET status = 'running', started_at = now(), stage = 'starting', progress = 0, "
                "worker = :worker, heartbeat_at = now() WHERE id = :id AND status = 'queued'"
            ),
            {"id": run_id, "worker": worker},
        )
        return rows_changed(result) == 1

    def beat(self, run_id: int) -> None:
        """The run's worker is alive."""
        self.session.execute(text("UPDATE hotspot_runs SET heartbeat_at = now() WHERE id = :id AND status = 'running'"),
                        {"id": run_id})

    def set_progress(self, run_id: int, stage: str, progress: float) -> None:
        self.session.execute(
            text("UPDATE hotspot_runs SET stage = :stage, progress = :progress, heartbeat_at = now() WHERE id = :id"),
            {"id": run_id, "stage": stage, "progress": progress},
        )

    def complete_run(self, run_id: int, provenance: dict[str, Any]) -> None:
        self.session.execute(
            text(
                "UPDATE hotspot_runs SET status = 'completed', stage = 'done', progress = 1, finished_at = now(), "
                "provenance = :provenance WHERE id = :id AND status = 'running'"
            ).bindparams(bindparam("provenance", type_=JSONDocument)),
            {"id": run_id, "provenance": json.loads(json.dumps(_finite(provenance), default=_json_default))},
        )

    def record_backtest(self, run_id: int, backtest: dict[str, Any]) -> None:
        """Keep a completed run's latest back-test in its provenance, under ``backtest``: audiences who may
        not count incidents read it from there (app/services/backtests.py). Nothing else is changed."""
        run = self.get_run(run_id)
        if run is None or not run.completed:
            return
        provenance = {**run.provenance.document, "backtest": backtest}
        self.session.execute(
            text("UPDATE hotspot_runs SET provenance = :provenance WHERE id = :id AND status = 'completed'")
            .bindparams(bindparam("provenance", type_=JSONDocument)),
            {"id": run_id, "provenance": json.loads(json.dumps(_finite(provenance), default=_json_default))},
        )

    def fail_run(self, run_id: int, error: str) -> None:
        self.session.execute(
            text("UPDATE hotspot_runs SET status = 'failed', finished_at = now(), error = :error WHERE id = :id"),
            {"id": run_id, "error": error},
        )

    def running_runs(self) -> list[dict[str, Any]]:
        """Runs in progress: id, worker, last heartbeat."""
        rows = self.session.execute(text("SELECT id, worker, heartbeat_at FROM hotspot_runs WHERE status = 'running'"))
        return [dict(r._mapping) for r in rows]

    def fail_interrupted_runs(self, run_ids: list[int]) -> list[int]:
        """These runs' workers are gone: fail them (if still running); queued ones stay queued."""
        if not run_ids:
            return []
        ids, params = self.sql.in_list("id", run_ids, "ids")
        rows = self.session.execute(
            text(
                "UPDATE hotspot_runs SET status = 'failed', finished_at = now(), "
                "error = 'Interrupted: the service stopped while this run was in progress. Submit it again.' "
                f"WHERE status = 'running' AND {ids} RETURNING id"
            ),
            params,
        )
        return sorted(r.id for r in rows)

    def stale_queued_run_ids(self, queued_before: datetime) -> list[int]:
        """Queued runs no worker has taken since ``queued_before`` (their worker may be gone)."""
        return list(self.session.execute(
            text("SELECT id FROM hotspot_runs WHERE status = 'queued' AND created_at < :before ORDER BY id"),
            {"before": queued_before},
        ).scalars())

    def queued_run_ids(self) -> list[int]:
        return list(self.session.execute(text("SELECT id FROM hotspot_runs WHERE status = 'queued' ORDER BY id")).scalars())

    def _cell_filters(self, kind: AnalysisKind, community_id: int | None, classes: list[int],
                      within: list[int] | None = None, bbox: Box | None = None) -> tuple[str, dict[str, Any]]:
        """Extra WHERE clauses of a cell listing: a community, the kind's classes, a partner's scope,
        the cells whose hexagon intersects a lon/lat box (by the spatial index)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if bbox is not None:
            clauses.append(self.sql.shape_in_box("h"))
            params.update(zip(("west", "south", "east", "north"), bbox, strict=True))
        if within is not None:
            clause, more = self.sql.in_list("h.community_id", within, "within")
            clauses.append(clause)
            params.update(more)
        if community_id is not None:
            clauses.append("h.community_id = :community_id")
            params["community_id"] = community_id
        if classes:
            clause, more = self.sql.in_list(f"h.{kind.class_field}", classes, "classes")
            clauses.append(clause)
            params.update(more)
        return "".join(f" AND {c}" for c in clauses), params

    # How a backend hands out a cell's hexagon (GeoJSON text) and centre (lat, lon): SQL, then Python.
    CELL_GEOMETRY = ""
    CELL_CENTRE = ""
    CELL_WKB = ""  # the hexagon as WKB, named ``wkb`` (empty: the backend's CELL_CENTRE already holds it)
    STREAM_CELLS: dict[str, Any] = {}

    def _with_geometry(self, cell: dict[str, Any]) -> dict[str, Any]:
        return cell

    def _with_centre(self, cell: dict[str, Any]) -> dict[str, Any]:
        return cell

    def _cell_wkb(self, cell: dict[str, Any]) -> bytes:
        return bytes(cell.pop("wkb"))

    def cell_page(self, run_id: int, *, after_cell: int | None, limit: int,
                  community_id: int | None = None, classes: list[int] | None = None,
                  within: list[int] | None = None, published: bool = False,
                  kind: AnalysisKind = kind_named(DEFAULT_KIND), bbox: Box | None = None) -> list[dict[str, Any]]:
        """One page of a run's cells, in cell order, with their hexagon as GeoJSON (``classes``: only cells
        of these classes of the kind's class field; ``within``: only these communities; ``published``: as
        audiences below analyst see them; ``bbox``: only hexagons intersecting this lon/lat box)."""
        select, table = kind_sql.cell_select(kind, published)
        extra, params = self._cell_filters(kind, community_id, classes or [], within, bbox)
        if after_cell is not None:
            extra += " AND h.cell > :after"
            params["after"] = after_cell
        rows = self.session.execute(
            text(
                f"{select}, {self.CELL_GEOMETRY} FROM {table} h "
                f"JOIN communities c ON c.id = h.community_id WHERE h.run_id = :run_id{extra} "
                "ORDER BY h.cell LIMIT :limit"
            ),
            {"run_id": run_id, "limit": limit, **params},
        )
        return [self._with_geometry(dict(r._mapping)) for r in rows]

    def count_cells(self, run_id: int, *, community_id: int | None = None, classes: list[int] | None = None,
                    within: list[int] | None = None, published: bool = False,
                    kind: AnalysisKind = kind_named(DEFAULT_KIND), bbox: Box | None = None) -> int:
        """How many cells ``cell_page`` would list under the same filters (a collection's ``numberMatched``)."""
        table = kind.published_cell_table if published else kind.cell_table
        extra, params = self._cell_filters(kind, community_id, classes or [], within, bbox)
        return int(self.session.execute(
            text(f"SELECT count(*) FROM {table} h WHERE h.run_id = :run_id{extra}"),
            {"run_id": run_id, **params},
        ).scalar_one())

    def iter_cells(self, run_id: int, community_id: int | None = None,
                   classes: list[int] | None = None, within: list[int] | None = None,
                   published: bool = False, kind: AnalysisKind = kind_named(DEFAULT_KIND), *,
                   geometry: bool = False) -> Iterator[dict[str, Any]]:
        """Every cell of a run, streamed (for file exports), with the cell centre; ``geometry``: and its
        hexagon as WKB under ``geometry`` (what GIS files write, without a detour through GeoJSON)."""
        select, table = kind_sql.cell_select(kind, published)
        extra, params = self._cell_filters(kind, community_id, classes or [], within)
        hexagon = f", {self.CELL_WKB}" if geometry and self.CELL_WKB else ""
        result = self.session.execute(
            text(
                f"{select}, {self.CELL_CENTRE}{hexagon} "
                f"FROM {table} h JOIN communities c ON c.id = h.community_id WHERE h.run_id = :run_id{extra} "
                "ORDER BY h.cell"
            ),
            {"run_id": run_id, **params},
            execution_options=self.STREAM_CELLS,
        )
        keys = list(result.keys())
        # Whole batches from the server cursor (row by row, psycopg would ask the server every ~100 rows),
        # and each row zipped with the names read once: half the time of a 68,000-cell export's read.
        for batch in result.partitions(5000):
            for row in batch:
                cell = dict(zip(keys, row))
                wkb = self._cell_wkb(cell) if geometry else None
                cell = self._with_centre(cell)
                if geometry:
                    cell["geometry"] = wkb
                yield cell

    def neighbourhood_figures(self, run_id: int, published: bool = False,
                              kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> list[dict[str, Any]]:
        """Per community: incidents, area, hot cells by confidence, incidents inside hot cells.

        ``published``: summed over the published cells only (counts under k are NULL there and
        add nothing), so every figure is worked out from what the audience is shown.
        """
        table = kind.published_cell_table if published else kind.cell_table
        rows = self.session.execute(
            text(
                "SELECT c.id AS community_id, c.name AS community, c.area_km2, c.population, "
                "count(*) AS cells, coalesce(sum(h.incidents), 0) AS incidents, "
                f"{kind_sql.ranking_sums(kind)}"
                f"FROM {table} h JOIN communities c ON c.id = h.community_id WHERE h.run_id = :run_id "
                "GROUP BY c.id ORDER BY c.id"
            ),
            {"run_id": run_id},
        )
        return [dict(r._mapping) for r in rows]

    def top_cells(self, run_id: int, per_community: int, published: bool = False,
                  kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> list[dict[str, Any]]:
        """The hottest cells of each community: the strongest statistic among hot cells; ``published``: by
        class, then published count (hidden last), then cell, so the order tells nothing a statistic would."""
        if kind.ranking is None:
            raise ValueError(f"Runs of kind {kind.name!r} have no neighbourhood ranking.")
        strength, classed = kind.ranking.strength, kind.class_field
        columns, table, order = ((f"NULL AS {strength}", kind.published_cell_table,
                                  f"h.{classed} DESC, h.incidents DESC NULLS LAST, h.cell")
                                 if published else (strength, kind.cell_table, f"h.{strength} DESC NULLS LAST"))
        candidate = kind_sql.condition(kind.ranking.candidate)
        rows = self.session.execute(
            text(
                f"SELECT community_id, cell, incidents, {columns}, {classed} FROM ("
                f"  SELECT h.*, row_number() OVER (PARTITION BY h.community_id ORDER BY {order}) AS r "
                f"  FROM {table} h WHERE h.run_id = :run_id AND {candidate}) ranked "
                "WHERE r <= :n ORDER BY community_id, r"
            ),
            {"run_id": run_id, "n": per_community},
        )
        return [dict(r._mapping) for r in rows]

    @abstractmethod
    def _covering(self, names: list[str]) -> tuple[str, dict[str, Any]]:
        """Runs of every community (none named) or naming at least one of ``names``."""

    @abstractmethod
    def store_cells(self, run_id: int, cells: CellColumns, polygons_wkb: list[bytes], *,
                    kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> None:
        """Store a run's cells (with their hexagons) in the session's transaction: the kind's declared
        fields, read by name from ``cells``."""


class PostgisRuns(Runs):
    """jsonb operators, COPY, hexagons as GeoJSON and centres from PostGIS."""

    CELL_GEOMETRY = "ST_AsGeoJSON(h.geom, 6) AS geometry"
    CELL_CENTRE = "ST_Y(ST_Centroid(h.geom)) AS centre_lat, ST_X(ST_Centroid(h.geom)) AS centre_lon"
    CELL_WKB = "ST_AsBinary(h.geom) AS wkb"
    STREAM_CELLS = {"stream_results": True, "yield_per": 5000}

    def _covering(self, names: list[str]) -> tuple[str, dict[str, Any]]:
        """Runs of every community (none named) or naming at least one of ``names``."""
        return ("(parameters->'communities' = '[]'::jsonb OR parameters->'communities' ?| :covering)",
                {"covering": names})

    def store_cells(self, run_id: int, cells: CellColumns, polygons_wkb: list[bytes], *,
                    kind: AnalysisKind = kind_named(DEFAULT_KIND)) -> None:
        """COPY a run's cells (with their hexagons) in the session's transaction: the kind's declared
        fields, read by name from ``cells``."""
        n = len(cells)
        table = pa.table({
            "run_id": pa.array(np.full(n, run_id, dtype=np.int64)),
            "cell": pa.array(cells.cells, pa.int64()),
            "community_id": pa.array(cells.community, pa.int64()),
            "incidents": pa.array(cells.incidents, pa.int64()),
            **{f.name: _arrow(getattr(cells, f.name), f.type) for f in kind.fields},
            "geom": pa.array([w.hex() for w in polygons_wkb], pa.string()),
        })
        out = pa.BufferOutputStream()
        pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        driver = driver_connection(self.session)
        sql = f"COPY {kind.cell_table} ({', '.join(kind_sql.cell_columns(kind))}) FROM STDIN WITH (FORMAT csv)"
        with driver.cursor() as cursor, cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:
            copy.write(out.getvalue().to_pybytes())


def _arrow(values: Any, column_type: str) -> pa.Array:
    """One declared cell field as an Arrow column for COPY (NaN written as an empty, NULL, field)."""
    if column_type == "float":
        return pa.array(np.asarray(values, dtype=np.float64), pa.float64(), from_pandas=True)
    if column_type == "text":
        return pa.array(np.asarray(values).tolist(), pa.string())
    return pa.array(values, pa.int64())


def hexagons_wkb(polygons: list) -> list[bytes]:
    """Hexagons as EWKB with SRID 4326, ready for ``store_cells``."""
    return list(shapely.to_wkb(shapely.set_srid(np.asarray(polygons, dtype=object), 4326), include_srid=True))


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: store them as null."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return str(value)
