"""Sensitive categories, for administrators: the terms in force, every category's class, and the
admin's own terms (each change audited; every category is classed again at once)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from app.api.deps import Admin, StoreDep
from app.audit import audited
from app.errors import NotFound
from app.services import sensitive_categories
from spatial.sensitive import SHIPPED_TERMS

router = APIRouter(prefix="/api/v1/sensitive-categories", tags=["privacy"])


class NewTerm(BaseModel):
    term: str = Field(min_length=1, max_length=sensitive_categories.MAX_TERM_LENGTH,
                      description="A word or phrase; a category containing it (any spelling, accents, case, "
                                  "word endings) is left out of everything shared")


@router.get("", summary="The sensitive terms in force and every category's class, with near misses")
def list_sensitive(store: StoreDep, _: Admin) -> dict[str, Any]:
    found = store.disclosure.categories()
    return {"shipped_terms": list(SHIPPED_TERMS), "admin_terms": store.disclosure.admin_terms(),
            "categories": found, "near_misses": [c for c in found if c["near_miss"] and not c["sensitive"]]}


@router.post("/terms", status_code=status.HTTP_201_CREATED, summary="Add a sensitive term")
def add_term(body: NewTerm, request: Request, store: StoreDep, admin: Admin) -> dict[str, Any]:
    with audited(store, "sensitive_term.add", principal=admin, request=request, target=body.term) as entry:
        changes = sensitive_categories.add_term(store, body.term, admin.user_id)
        store.session.commit()
        entry.details = _audit_details(changes)
    request.app.state.tile_cache.clear()  # withdrawn runs' tiles must not be served from memory
    return changes


@router.delete("/terms/{term}", summary="Remove an admin's sensitive term (shipped terms stay)")
def remove_term(term: str, request: Request, store: StoreDep, admin: Admin) -> dict[str, Any]:
    with audited(store, "sensitive_term.remove", principal=admin, request=request, target=term) as entry:
        changes = sensitive_categories.remove_term(store, term)
        if not changes["removed"]:
            raise NotFound(f"'{changes['term']}' is not an admin's sensitive term.")
        store.session.commit()
        entry.details = _audit_details(changes)
    return changes


def _audit_details(changes: dict[str, Any]) -> dict[str, Any]:
    return {"now_sensitive": changes["now_sensitive"], "no_longer_sensitive": changes["no_longer_sensitive"],
            "shared_runs_withdrawn": changes["shared_runs_withdrawn"]}
