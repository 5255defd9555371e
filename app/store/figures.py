"""Populations and indicators per community: versions of uploaded figures and their values.

Portable SQL (both backends run this class). A figure is one column of an upload for one
boundary set (``kind`` 'population' or 'indicator', ``name``); a new upload of the same
figure is a new version and the only active one; older versions are kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, DateTime, text
from sqlalchemy.types import TypeEngine

from app.store.sql import BoundToSession

FIGURE_COLUMNS = ("f.id, f.boundary_set_id, f.kind, f.name, f.unit, f.year, f.source, f.version, f.active, "
                  "f.filename, f.uploaded_by, f.uploaded_at")
_TYPES: dict[str, TypeEngine[Any]] = {"active": Boolean(), "uploaded_at": DateTime(timezone=True)}  # SQLite returns neither typed


class Figures(BoundToSession):
    """Figures per community (portable SQL)."""

    def community_keys(self, boundary_set_id: int) -> list[dict[str, Any]]:
        """The communities of a set with what an upload may key them by (name, code), in id order."""
        rows = self.session.execute(
            text("SELECT id, name, code FROM communities WHERE boundary_set_id = :set_id ORDER BY id"),
            {"set_id": boundary_set_id})
        return [dict(r._mapping) for r in rows]

    def add_figure(self, *, boundary_set_id: int, kind: str, name: str, unit: str | None, year: int | None,
                   source: str | None, filename: str | None, user_id: int | None,
                   values: dict[int, float]) -> dict[str, Any]:
        """Store a new version of a figure with its values, as the active one; returns its id and version."""
        key = {"set_id": boundary_set_id, "kind": kind, "name": name}
        version = self.session.execute(
            text("SELECT coalesce(max(version), 0) + 1 FROM community_figures "
                 "WHERE boundary_set_id = :set_id AND kind = :kind AND name = :name"), key).scalar_one()
        self.session.execute(
            text("UPDATE community_figures SET active = false "
                 "WHERE boundary_set_id = :set_id AND kind = :kind AND name = :name AND active"), key)
        figure_id = self.session.execute(
            text("INSERT INTO community_figures (boundary_set_id, kind, name, unit, year, source, version, active, "
                 "filename, uploaded_by) VALUES (:set_id, :kind, :name, :unit, :year, :source, :version, true, "
                 ":filename, :user_id) RETURNING id"),
            {**key, "unit": unit, "year": year, "source": source, "version": int(version), "filename": filename,
             "user_id": user_id},
        ).scalar_one()
        if values:
            self.session.execute(
                text("INSERT INTO community_figure_values (figure_id, community_id, value) "
                     "VALUES (:figure_id, :community_id, :value)"),
                [{"figure_id": figure_id, "community_id": c, "value": float(v)} for c, v in values.items()])
        return {"id": int(figure_id), "version": int(version)}

    def list_figures(self, boundary_set_id: int | None = None) -> list[dict[str, Any]]:
        """Every version of every figure (of one set, or all), newest first, with how many communities it covers."""
        where = "WHERE f.boundary_set_id = :set_id" if boundary_set_id is not None else ""
        rows = self.session.execute(
            text(f"SELECT {FIGURE_COLUMNS}, (SELECT count(*) FROM community_figure_values v "
                 f"WHERE v.figure_id = f.id) AS communities FROM community_figures f {where} "
                 "ORDER BY f.id DESC").columns(**_TYPES),
            {"set_id": boundary_set_id})
        return [dict(r._mapping) for r in rows]

    def active_figure(self, boundary_set_id: int, kind: str, name: str) -> dict[str, Any] | None:
        """The active version of a figure with its ``values`` (community id -> value), or None."""
        row = self.session.execute(
            text(f"SELECT {FIGURE_COLUMNS} FROM community_figures f WHERE f.boundary_set_id = :set_id "
                 "AND f.kind = :kind AND f.name = :name AND f.active").columns(**_TYPES),
            {"set_id": boundary_set_id, "kind": kind, "name": name}).first()
        if row is None:
            return None
        values = self.session.execute(
            text("SELECT community_id, value FROM community_figure_values WHERE figure_id = :id"), {"id": row.id})
        return {**row._mapping, "values": {int(c): float(v) for c, v in values}}

    def figures_of_community(self, community_id: int) -> list[dict[str, Any]]:
        """The active figures giving a value for one community (population first, then indicators by name)."""
        rows = self.session.execute(
            text(f"SELECT {FIGURE_COLUMNS}, v.value FROM community_figures f "
                 "JOIN community_figure_values v ON v.figure_id = f.id "
                 "WHERE v.community_id = :id AND f.active ORDER BY f.kind DESC, f.name").columns(**_TYPES),
            {"id": community_id})
        return [dict(r._mapping) for r in rows]
