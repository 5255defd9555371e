"""What a run counts: incidents of its communities (their own assignment) under its filters.

One set of filters serves counting a run's cells and communities and finding
the runs that counted the rows of an import (to undo it), so the figures of a
community agree everywhere. Portable SQL: the same on PostGIS and SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import text

from app.privacy import CLASSED
from app.store.sql import BoundToSession, hold_back_cutoff, not_sensitive


@dataclass(frozen=True)
class RunFilters:
    """The incidents a run counts: those of ``community_ids`` that pass every other filter."""

    community_ids: tuple[int, ...]
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    without_sensitive: bool = False  # shared runs: only categories classed not sensitive
    hold_back_days: int = 0

    @classmethod
    def of_run(cls, parameters: dict[str, Any], community_ids: list[int]) -> RunFilters:
        """The filters recorded in a run's parameters."""
        def stamp(key: str) -> datetime | None:
            return datetime.fromisoformat(parameters[key]) if parameters.get(key) else None

        return cls(
            community_ids=tuple(community_ids), start=stamp("start"), end=stamp("end"),
            categories=tuple(parameters.get("categories") or ()), sources=tuple(parameters.get("sources") or ()),
            # runs from before categories were classed listed words instead: left out as strictly
            without_sensitive=(parameters.get("sensitive_categories") == CLASSED
                               or bool(parameters.get("excluded_category_patterns"))),
            hold_back_days=int(parameters.get("hold_back_days") or 0),
        )


class RunCounts(BoundToSession):
    """Counting a run's incidents and finding the runs an import's rows touched (portable SQL)."""

    def _where(self, filters: RunFilters) -> tuple[str, dict[str, Any]]:
        clause, params = self.sql.in_list("community_id", list(filters.community_ids), "communities")
        clauses = [clause]
        more_clauses, more_params = self.sql.window_and_lists(filters.start, filters.end,
                                                     category=filters.categories, source=filters.sources)
        clauses += more_clauses
        params.update(more_params)
        if filters.without_sensitive:
            clauses.append(not_sensitive("category"))
        if filters.hold_back_days:
            clauses.append("occurred_at < :cutoff")
            params["cutoff"] = hold_back_cutoff(filters.hold_back_days)
        return " AND ".join(clauses), params

    def counts_per_cell_and_community(self, filters: RunFilters,
                                      resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidents per (H3 cell at ``resolution``, community of the incident): a GROUP BY, never row by row.

        Returns (cells, communities, counts), sorted by cell then community.
        """
        where, params = self._where(filters)
        params["resolution"] = resolution
        rows = self.session.execute(
            text(
                "SELECT h3_parent(h3_cell, :resolution) AS cell, community_id, count(*) AS incidents FROM incidents "
                f"WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            params,
        ).all()
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        cells, communities, counts = zip(*rows)
        return (np.array(cells, dtype=np.int64), np.array(communities, dtype=np.int64),
                np.array(counts, dtype=np.int64))

    def counts_per_cell_step_and_community(
            self, filters: RunFilters, resolution: int,
            bounds: Sequence[datetime]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Incidents per (H3 cell, time step, community) in one ``GROUP BY``: step ``i`` holds the
        incidents in [bounds[i], bounds[i + 1]); those outside every step are not counted.

        Returns (cells, steps, communities, counts), sorted by cell, step and community.
        """
        if len(bounds) < 2:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy(), empty.copy()
        where, params = self._where(replace(filters, start=bounds[0], end=bounds[-1]))
        step = "CASE " + " ".join(f"WHEN occurred_at < :step_end_{i} THEN {i}" for i in range(len(bounds) - 1)) + " END"
        params.update({f"step_end_{i}": bound for i, bound in enumerate(bounds[1:])}, resolution=resolution)
        rows = self.session.execute(
            text(f"SELECT h3_parent(h3_cell, :resolution) AS cell, {step} AS step, community_id, count(*) AS incidents "
                 f"FROM incidents WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
            params,
        ).all()
        columns = np.array(rows, dtype=np.int64).reshape(len(rows), 4)
        return columns[:, 0].copy(), columns[:, 1].copy(), columns[:, 2].copy(), columns[:, 3].copy()

    def import_rows_counted(self, import_id: int, filters: RunFilters) -> bool:
        """Whether any row the import inserted is one a run with these filters counts."""
        where, params = self._where(filters)
        params["import_id"] = import_id
        return self.session.execute(
            text(f"SELECT 1 FROM incidents WHERE import_id = :import_id AND {where} LIMIT 1"), params,
        ).first() is not None

    def runs_that_may_count(self, since: datetime | None) -> list[dict[str, Any]]:
        """Running runs, and finished ones that finished after ``since`` (when the import's rows arrived)."""
        finished = "r.status = 'completed'" + (" AND r.finished_at >= :since" if since is not None else "")
        rows = self.session.execute(
            text(
                "SELECT r.id, r.status, r.parameters, r.provenance, r.boundary_set_id FROM hotspot_runs r "
                f"WHERE r.status = 'running' OR ({finished}) ORDER BY r.id"
            ),
            {"since": since} if since is not None else {},
        )
        return [dict(r._mapping) for r in rows]

    def community_ids_of(self, boundary_set_id: int, names: list[str] | None) -> list[int]:
        """Ids of a set's communities (all, or those named)."""
        sql = "SELECT id, name FROM communities WHERE boundary_set_id = :set_id ORDER BY id"
        rows = self.session.execute(text(sql), {"set_id": boundary_set_id}).all()
        return [r.id for r in rows if not names or r.name in names]

    def mark_data_changed(self, run_ids: list[int], note: str) -> None:
        """Record on each run that data it counted has changed since (its figures are no longer current)."""
        if not run_ids:
            return
        ids, params = self.sql.in_list("id", run_ids, "ids")
        self.session.execute(
            text(f"UPDATE hotspot_runs SET data_changed_at = now(), data_changed = :note WHERE {ids}"),
            {**params, "note": note},
        )

def loads(value: Any) -> Any:
    """A JSON column's value as Python (SQLite may hand back text)."""
    return json.loads(value) if isinstance(value, str) else value
