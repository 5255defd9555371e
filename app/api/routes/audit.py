"""The audit log, for administrators: read and export, never change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.api import exports
from app.api.deps import MAX_ID, Admin, DateRangeDep, SessionDep, limit_heavy
from app.audit import record
from app.formats import Feature, Formatter
from app.store import audit as audit_store

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

CSV_COLUMNS = ("id", "at", "user_id", "user_name", "role", "action", "target", "outcome", "client_ip", "details")


@router.get("", summary="Audit entries, newest first (CSV export with format=csv)",
            responses=exports.download_responses(geometry=False))
def list_audit(
    request: Request, session: SessionDep, user: Admin, dates: DateRangeDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    user_name: Annotated[str | None, Query(alias="user", max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Cursor: entries older than this id")] = None,
    output: Annotated[Formatter | None, Depends(exports.format_parameter(default="json", geometry=False,
                                                                         listing="json"))] = None,
):
    filters: dict[str, Any] = {"action": action, "user": user_name, "start": dates.start, "end": dates.end}
    if output is not None:  # a file of every matching entry (entries have no geometry)
        limit_heavy(request, user, "export")
        record(session, action="export.audit", principal=user, request=request, target="/api/v1/audit",
               details={k: v for k, v in filters.items() if v is not None})
        return exports.download(output, (Feature(entry) for entry in audit_store.stream(session, **filters)),
                                CSV_COLUMNS, "audit")
    entries = audit_store.page(session, limit=limit, before_id=before, **filters)
    return {"entries": entries, "next_before": entries[-1]["id"] if len(entries) == limit else None}
