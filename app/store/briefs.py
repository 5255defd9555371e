"""The history of community briefs the scheduled job (and ``hotspots briefs make``) wrote.

Portable SQL (both backends run this class).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, text

from app.store.sql import BoundToSession

BRIEF_COLUMNS = "id, community_id, community, period, audience, path, sha256, made_at, status, error"


class Briefs(BoundToSession):
    """Briefs written, or that failed (portable SQL)."""

    def record_brief(self, *, community_id: int | None, community: str, period: str | None, audience: str,
                     path: str, sha256: str | None, error: str | None = None) -> int:
        """Add one row: written when ``sha256`` is given, else failed with ``error``; returns its id."""
        return int(self.session.execute(
            text("INSERT INTO brief_history (community_id, community, period, audience, path, sha256, status, error) "
                 "VALUES (:community_id, :community, :period, :audience, :path, :sha256, :status, :error) RETURNING id"),
            {"community_id": community_id, "community": community, "period": period, "audience": audience,
             "path": path, "sha256": sha256, "status": "written" if sha256 else "failed", "error": error},
        ).scalar_one())

    def brief_written(self, path: str) -> bool:
        """Whether a brief was already written to ``path`` (the scheduled job's "done this week/month")."""
        return bool(self.session.execute(
            text("SELECT EXISTS (SELECT 1 FROM brief_history WHERE path = :path AND status = 'written')"),
            {"path": path}).scalar_one())

    def last_brief(self, path: str) -> dict[str, Any] | None:
        """The newest row for ``path`` (written or failed), or None: what the history last said of that file."""
        row = self.session.execute(
            text(f"SELECT {BRIEF_COLUMNS} FROM brief_history WHERE path = :path ORDER BY id DESC LIMIT 1")
            .columns(made_at=DateTime(timezone=True)), {"path": path}).first()
        return None if row is None else dict(row._mapping)

    def brief_history(self, *, limit: int) -> list[dict[str, Any]]:
        """The newest rows first."""
        rows = self.session.execute(
            text(f"SELECT {BRIEF_COLUMNS} FROM brief_history ORDER BY id DESC LIMIT :limit")
            .columns(made_at=DateTime(timezone=True)), {"limit": limit})
        return [dict(r._mapping) for r in rows]
