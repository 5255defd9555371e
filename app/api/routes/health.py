"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import StoreDep


router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and has PostGIS")
def readyz(store: StoreDep) -> JSONResponse:
    status = store.database.status()
    return JSONResponse(status, status_code=200 if status["status"] == "ready" else 503,
                        headers=None if status["status"] == "ready" else {"Retry-After": "5"})
