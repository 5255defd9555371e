"""Import records: one row per upload, with counts and the full report."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, select, text

from app.store.sql import BoundToSession
from models import Import
from models.types import JSONDocument


class Imports(BoundToSession):
    """One record per import (portable SQL)."""

    def start_import(self, *, filename: str, source: str, user_id: int | None) -> int:
        record = Import(filename=filename, source=source, created_by=user_id, status="running")
        self.session.add(record)
        self.session.flush()
        return record.id

    def finish_import(self, import_id: int, *, status: str, counts: dict[str, int],
                      report: dict[str, Any] | None, error: str | None = None) -> None:
        self.session.execute(
            text(
                "UPDATE imports SET status = :status, finished_at = now(), rows_read = :rows_read, "
                "inserted = :inserted, duplicates = :duplicates, rejected = :rejected, "
                "report = :report, error = :error WHERE id = :id"
            ).bindparams(bindparam("report", type_=JSONDocument)),
            {"id": import_id, "status": status, "error": error, "report": _plain(report), **counts},
        )

    def record_failed_import(self, *, filename: str, source: str, user_id: int | None, error: str) -> int:
        """Keep a trace of an import that failed for a reason other than the file itself."""
        import_id = self.start_import(filename=filename, source=source, user_id=user_id)
        self.finish_import(import_id, status="failed", report=None, error=error,
                      counts={"rows_read": 0, "inserted": 0, "duplicates": 0, "rejected": 0})
        return import_id

    def get_import(self, import_id: int) -> Import | None:
        return self.session.get(Import, import_id)

    def list_imports(self, *, limit: int, after_id: int | None = None) -> list[Import]:
        query = select(Import).order_by(Import.id.desc()).limit(limit)
        if after_id is not None:
            query = query.where(Import.id < after_id)
        return list(self.session.scalars(query))

    def mark_undone(self, import_id: int, *, user_id: int | None) -> None:
        """The import's rows were removed: keep its record and report, as 'undone', with who and when."""
        self.session.execute(
            text("UPDATE imports SET status = 'undone', undone_at = now(), undone_by = :user_id WHERE id = :id"),
            {"id": import_id, "user_id": user_id},
        )
    def import_sources(self) -> list[str]:
        """The source names of every completed import (the feeds a run may have counted)."""
        return list(self.session.execute(
            text("SELECT DISTINCT source FROM imports WHERE status = 'completed' ORDER BY source")).scalars())

def _plain(value: Any) -> Any:
    """The report with anything JSON cannot hold (dates, numpy numbers) as text."""
    return None if value is None else json.loads(json.dumps(value, default=str))
