"""The incident categories in the data, for choosing what a run counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import Analyst, StoreDep
from app.services import categories

router = APIRouter(prefix="/api/v1/categories", tags=["analyses"])


@router.get("", summary="Incident categories in the data (matched ignoring case when a run names them)")
def list_categories(store: StoreDep, _: Analyst) -> dict[str, Any]:
    return {"categories": categories.known(store)}
