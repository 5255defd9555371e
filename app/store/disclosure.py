"""The owner-only tables of disclosure control: the privacy rules (k, hold-back), the admin's
sensitive terms, each category's class, and the release log of shared runs.

Portable SQL: both stores run it. The restricted role cannot read or write these tables
(migration 0009); the aggregate functions and the published views read them themselves.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import text

from app.store import kind_sql
from app.store.sql import BoundToSession, rows_changed
from spatial.sensitive import Classification


class Disclosure(BoundToSession):
    """The privacy rules, sensitive terms, category classes and the release log (portable SQL)."""

    def rules(self) -> dict[str, Any]:
        """k, the hold-back days and the zone of calendar months the database applies."""
        row = self.session.execute(text("SELECT min_count, hold_back_days, zone FROM privacy_rules WHERE id = 1")).one()
        return {"min_count": int(row.min_count), "hold_back_days": int(row.hold_back_days), "zone": str(row.zone)}

    def set_rules(self, *, min_count: int, hold_back_days: int, zone: str) -> bool:
        """Write k, the hold-back and the zone (from the service's settings); True when they changed."""
        result = self.session.execute(
            text("UPDATE privacy_rules SET min_count = :k, hold_back_days = :hold, zone = :zone, "
                 "updated_at = CURRENT_TIMESTAMP "
                 "WHERE id = 1 AND (min_count <> :k OR hold_back_days <> :hold OR zone <> :zone)"),
            {"k": min_count, "hold": hold_back_days, "zone": zone})
        return rows_changed(result) > 0

    def admin_terms(self) -> list[dict[str, Any]]:
        """The terms added by admins (or the service's settings, ``added_by`` null), alphabetically."""
        rows = self.session.execute(text(
            "SELECT t.term, t.added_by, u.name AS added_by_name, t.added_at FROM sensitive_terms t "
            "LEFT JOIN users u ON u.id = t.added_by ORDER BY t.term"))
        return [dict(r._mapping) for r in rows]

    def add_term(self, term: str, user_id: int | None) -> bool:
        """Add a term; False when it was there already."""
        result = self.session.execute(
            text("INSERT INTO sensitive_terms (term, added_by) VALUES (:term, :user) ON CONFLICT (term) DO NOTHING"),
            {"term": term, "user": user_id})
        return rows_changed(result) > 0

    def remove_term(self, term: str) -> bool:
        result = self.session.execute(text("DELETE FROM sensitive_terms WHERE term = :term"), {"term": term})
        return rows_changed(result) > 0

    def categories(self) -> list[dict[str, Any]]:
        """Every category classed so far: name, sensitive, the term matched, a near miss."""
        rows = self.session.execute(text(
            "SELECT name, sensitive, matched_term, near_miss, classified_at FROM incident_categories ORDER BY name"))
        return [{**dict(r._mapping), "sensitive": bool(r.sensitive)} for r in rows]

    def classified_names(self) -> set[str]:
        return set(self.session.execute(text("SELECT name FROM incident_categories")).scalars())

    def incident_category_names(self) -> list[str]:
        """Every distinct category of the stored incidents ('' for none)."""
        return list(self.session.execute(text("SELECT DISTINCT coalesce(category, '') FROM incidents")).scalars())

    def save_classes(self, found: list[Classification]) -> None:
        """Store (or replace) the class of each category."""
        if not found:
            return
        self.session.execute(
            text("INSERT INTO incident_categories (name, sensitive, matched_term, near_miss) "
                 "VALUES (:name, :sensitive, :matched, :near) ON CONFLICT (name) DO UPDATE SET "
                 "sensitive = excluded.sensitive, matched_term = excluded.matched_term, near_miss = excluded.near_miss, "
                 "classified_at = CURRENT_TIMESTAMP"),
            [{"name": c.category, "sensitive": c.sensitive, "matched": c.matched_term, "near": c.near_miss}
             for c in found])

    def withdraw_shared_runs(self) -> list[int]:
        """Make every shared run police-only (they may have counted a category now sensitive); their ids."""
        ids = list(self.session.execute(text("SELECT id FROM hotspot_runs WHERE audience = 'shared' ORDER BY id")).scalars())
        self.session.execute(text("UPDATE hotspot_runs SET audience = 'police' WHERE audience = 'shared'"))
        return ids

    def earlier_shared_runs(self, *, before_id: int | None) -> list[dict[str, Any]]:
        """Runs submitted as shared that are (or will be, or once were) published, oldest first: the
        release log. Withdrawn runs stay in it (partners may have kept them); every resolution counts."""
        clause = "AND id < :before" if before_id is not None else ""
        rows = self.session.execute(
            text(f"SELECT id, status, parameters FROM hotspot_runs "
                 f"WHERE status IN ('queued', 'running', 'completed') "
                 f"AND (audience = 'shared' OR {self.sql.json_text('parameters', 'audience')} = 'shared') {clause} "
                 "ORDER BY id"),
            {"before": before_id})
        runs = [dict(r._mapping) for r in rows]
        for run in runs:
            if isinstance(run["parameters"], str):  # SQLite keeps JSON as text
                run["parameters"] = json.loads(run["parameters"])
        return runs

    def stored_cell_counts(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A finished run's published cells and their exact counts (cells sorted)."""
        rows = self.session.execute(text(f"SELECT cell, incidents FROM {kind_sql.every_kinds_cells('run_id, cell, incidents')} h "
                                         "WHERE run_id = :id ORDER BY cell"), {"id": run_id}).all()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        cells, counts = zip(*rows)
        return np.array(cells, dtype=np.int64), np.array(counts, dtype=np.int64)
