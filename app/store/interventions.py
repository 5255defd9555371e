"""Interventions: stored programmes, their kept evaluations, and incidents counted per area and window.

Portable SQL (both backends run this class). Counting is one ``GROUP BY`` over the incidents of
the evaluation's time span: each incident goes to the first area it lies in (target, then buffer,
then comparison) by its community or its H3 cell at the intervention's resolution, and to its
window by its time; Python sees a small table of counts, never a point.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Boolean, DateTime, bindparam, text
from sqlalchemy.types import TypeEngine

from app.store.run_counts import loads
from app.store.sql import BoundToSession, not_sensitive, rows_changed, step_number
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB

# What the restricted role may read (migration 0018's column grants): never the police evaluation
# nor who recorded the intervention.
PUBLISHED_COLUMNS = ("id, name, partner, target_communities, target_geometry, communities, resolution, buffer_rings, "
                     "comparison_communities, starts_on, ends_on, shared, created_at, published_evaluation, "
                     "evaluated_at")
POLICE_COLUMNS = PUBLISHED_COLUMNS + ", created_by, evaluation"
JSON_FIELDS = ("target_communities", "target_geometry", "communities", "comparison_communities", "evaluation",
               "published_evaluation")
# Dates are left untyped: SQLite's own converter for DATE columns already returns them as dates.
_TYPES: dict[str, TypeEngine[Any]] = {"shared": Boolean(),
                                      "created_at": DateTime(timezone=True), "evaluated_at": DateTime(timezone=True)}
AREAS = ("target", "buffer", "comparison")
# A JSON column's None is SQL NULL (the one_target check counts on it), not the JSON value null.
JSONDocument = JSONB(none_as_null=True).with_variant(JSON(none_as_null=True), "sqlite")


class Interventions(BoundToSession):
    """Interventions and their counts (portable SQL)."""

    def create_intervention(self, *, name: str, partner: str | None, target_communities: list[int] | None,
                            target_geometry: dict[str, Any] | None, communities: list[str], resolution: int,
                            buffer_rings: int, comparison_communities: list[int] | None, starts_on: date,
                            ends_on: date, shared: bool, user_id: int | None) -> int:
        """Store a new intervention; returns its id."""
        statement = text(
            "INSERT INTO interventions (name, partner, target_communities, target_geometry, communities, resolution, "
            "buffer_rings, comparison_communities, starts_on, ends_on, shared, created_by) VALUES (:name, :partner, "
            ":target_communities, :target_geometry, :communities, :resolution, :buffer_rings, "
            ":comparison_communities, :starts_on, :ends_on, :shared, :user_id) RETURNING id"
        ).bindparams(*(bindparam(f, type_=JSONDocument) for f in JSON_FIELDS[:4]))
        return int(self.session.execute(statement, {
            "name": name, "partner": partner, "target_communities": target_communities,
            "target_geometry": target_geometry, "communities": communities, "resolution": resolution,
            "buffer_rings": buffer_rings, "comparison_communities": comparison_communities, "starts_on": starts_on,
            "ends_on": ends_on, "shared": shared, "user_id": user_id}).scalar_one())

    def get_intervention(self, intervention_id: int, *, published: bool = False) -> dict[str, Any] | None:
        """One intervention (``published``: only what the restricted role may read), or None."""
        columns = PUBLISHED_COLUMNS if published else POLICE_COLUMNS
        where = " AND shared" if published else ""
        row = self.session.execute(
            text(f"SELECT {columns} FROM interventions WHERE id = :id{where}").columns(**_TYPES),
            {"id": intervention_id}).first()
        return None if row is None else _decoded(row._mapping)

    def list_interventions(self, *, published: bool = False, before_id: int | None = None,
                           limit: int | None = None) -> list[dict[str, Any]]:
        """Interventions (``published``: shared ones, published columns), newest first; ``before_id``: only
        older than this id; ``limit``: at most this many."""
        columns = PUBLISHED_COLUMNS if published else POLICE_COLUMNS
        clauses = (["shared"] if published else []) + (["id < :before"] if before_id is not None else [])
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        page = " LIMIT :limit" if limit is not None else ""
        rows = self.session.execute(
            text(f"SELECT {columns} FROM interventions {where}ORDER BY id DESC{page}").columns(**_TYPES),
            {"before": before_id, "limit": limit})
        return [_decoded(r._mapping) for r in rows]

    def delete_intervention(self, intervention_id: int) -> bool:
        """Delete one intervention; whether it existed."""
        return rows_changed(self.session.execute(text("DELETE FROM interventions WHERE id = :id"),
                                                 {"id": intervention_id})) > 0

    def record_evaluation(self, intervention_id: int, evaluation: dict[str, Any], published: dict[str, Any],
                          at: datetime) -> None:
        """Keep the last evaluation: the police one and the one partners and viewers may read."""
        self.session.execute(
            text("UPDATE interventions SET evaluation = :evaluation, published_evaluation = :published, "
                 "evaluated_at = :at WHERE id = :id").bindparams(bindparam("evaluation", type_=JSONDocument),
                                                                 bindparam("published", type_=JSONDocument)),
            {"evaluation": evaluation, "published": published, "at": at, "id": intervention_id})

    def counts_per_area_and_window(
            self, *, resolution: int, target_communities: Sequence[int], target_cells: Sequence[int],
            buffer_cells: Sequence[int], comparison_communities: Sequence[int], bounds: Sequence[datetime],
            without_sensitive: bool = False, before: datetime | None = None) -> np.ndarray:
        """Incidents per area (rows: target, buffer, comparison) and window (columns: window ``i`` is
        [bounds[i], bounds[i + 1])), in one ``GROUP BY``.

        An incident is in the target when its community is one of ``target_communities`` or its cell
        one of ``target_cells``; else in the buffer when its cell is one of ``buffer_cells``; else in
        the comparison area when its community is one of ``comparison_communities``.
        ``without_sensitive``: only categories classed not sensitive; ``before``: only incidents before
        this time (the held-back days).
        """
        cell = "h3_parent(h3_cell, :resolution)"
        target_by_community, params = self.sql.in_list("community_id", list(target_communities), "target_ids")
        target_by_cell, more = self.sql.in_list(cell, [int(c) for c in target_cells], "target_cells")
        params.update(more)
        buffer, more = self.sql.in_list(cell, [int(c) for c in buffer_cells], "buffer_cells")
        params.update(more)
        comparison, more = self.sql.in_list("community_id", list(comparison_communities), "comparison_ids")
        params.update(more)
        step, ends = step_number("occurred_at", bounds)
        params.update(ends, resolution=resolution, first=bounds[0], last=bounds[-1])
        target = f"({target_by_community} OR {target_by_cell})"
        conditions = [f"({target} OR {buffer} OR {comparison})", "occurred_at >= :first", "occurred_at < :last"]
        if without_sensitive:
            conditions.append(not_sensitive("category"))
        if before is not None:
            conditions.append("occurred_at < :before")
            params["before"] = before
        rows = self.session.execute(
            text(f"SELECT CASE WHEN {target} THEN 0 WHEN {buffer} THEN 1 ELSE 2 END AS area, {step} AS step, "
                 f"count(*) AS incidents FROM incidents WHERE {' AND '.join(conditions)} GROUP BY 1, 2"),
            params).all()
        counts = np.zeros((len(AREAS), len(bounds) - 1), dtype=np.int64)
        for area, window, incidents in rows:
            counts[int(area), int(window)] = int(incidents)
        return counts


def _decoded(row: Any) -> dict[str, Any]:
    dates = {f: date.fromisoformat(row[f]) if isinstance(row[f], str) else row[f] for f in ("starts_on", "ends_on")}
    return {**row, **dates, **{f: loads(row[f]) for f in JSON_FIELDS if f in row}}
