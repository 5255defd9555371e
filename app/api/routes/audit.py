"""The audit log, for administrators: read and export, never change."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from app.api.csv_export import csv_response
from app.api.deps import MAX_ID, Admin, DateRangeDep, StoreDep, limit_heavy
from app.audit import record

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

CSV_COLUMNS = ("id", "at", "user_id", "user_name", "role", "action", "target", "outcome", "client_ip", "details")


@router.get("", summary="Audit entries, newest first (CSV export with format=csv)")
def list_audit(
    request: Request, store: StoreDep, user: Admin, dates: DateRangeDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    user_name: Annotated[str | None, Query(alias="user", max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Cursor: entries older than this id")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
):
    filters = {"action": action, "user": user_name, "start": dates.start, "end": dates.end}
    if format == "csv":
        limit_heavy(request, user, "export")
        record(store, action="export.audit", principal=user, request=request, target="/api/v1/audit",
               details={k: v for k, v in filters.items() if v is not None})
        return csv_response(store.audit.stream(**filters), CSV_COLUMNS, "audit.csv")
    entries = store.audit.page(limit=limit, before_id=before, **filters)
    return {"entries": entries, "next_before": entries[-1]["id"] if len(entries) == limit else None}
