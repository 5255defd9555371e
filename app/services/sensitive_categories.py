"""Sensitive categories: classed once each, in Python (spatial/sensitive.py), stored for the SQL.

The terms are the shipped list, the deployment's ``HOTSPOTS_SENSITIVE_CATEGORIES`` and the
terms admins add (API and CLI, audited). Shared counts keep only categories classed *not*
sensitive, so a category nobody has classed yet is left out until it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.errors import BadRequest
from app.settings import Settings
from app.store.backends import Store
from spatial.sensitive import SHIPPED_TERMS, Classification, classify, normalise_term

MAX_TERM_LENGTH = 120


def terms(store: Store) -> list[str]:
    """Every term in force: shipped, and the admins' (the settings' are added at start-up)."""
    return sorted({*SHIPPED_TERMS, *(t["term"] for t in store.disclosure.admin_terms())})


def classify_new(store: Store, names: Iterable[str | None], save: bool = True) -> list[Classification]:
    """Class the categories not classed yet (an import's), store them (unless a dry run), and return them."""
    known = store.disclosure.classified_names()
    fresh = sorted({n or "" for n in names} - known)
    if not fresh:
        return []
    in_force = terms(store)
    found = [classify(name, in_force) for name in fresh]
    if save:
        store.disclosure.save_classes(found)
    return found


def import_report(found: list[Classification]) -> dict[str, Any]:
    """What an import's new categories were classed as, for its report."""
    return {
        "sensitive_categories": [{"category": c.category, "matched_term": c.matched_term}
                                 for c in found if c.sensitive],
        "near_misses": [{"category": c.category, "close_to": c.near_miss} for c in found if c.near_miss],
    }


def reclassify(store: Store) -> dict[str, Any]:
    """Class every stored category again under the terms in force.

    When a category becomes sensitive, every shared run may have counted it: they are made
    police-only (partners no longer see them) and listed, so the analyst can run them again.
    """
    before = {c["name"]: c["sensitive"] for c in store.disclosure.categories()}
    in_force = terms(store)
    names = set(before) | set(store.disclosure.incident_category_names()) | {""}
    found = [classify(name, in_force) for name in sorted(names)]
    store.disclosure.save_classes(found)
    now_sensitive = sorted(c.category for c in found if c.sensitive and not before.get(c.category, False))
    withdrawn = store.disclosure.withdraw_shared_runs() if now_sensitive else []
    return {"now_sensitive": now_sensitive,
            "no_longer_sensitive": sorted(c.category for c in found if not c.sensitive and before.get(c.category)),
            "near_misses": [{"category": c.category, "close_to": c.near_miss} for c in found if c.near_miss],
            "shared_runs_withdrawn": withdrawn}


def clean_term(term: str) -> str:
    cleaned = normalise_term(term)
    if not cleaned:
        raise BadRequest("A sensitive term needs at least one letter or digit.")
    if len(cleaned) > MAX_TERM_LENGTH:
        raise BadRequest(f"A sensitive term may have at most {MAX_TERM_LENGTH} characters.")
    return cleaned


def add_term(store: Store, term: str, user_id: int | None) -> dict[str, Any]:
    """Add an admin term and class every category again; what changed."""
    cleaned = clean_term(term)
    added = store.disclosure.add_term(cleaned, user_id)
    return {"term": cleaned, "added": added, **reclassify(store)}


def remove_term(store: Store, term: str) -> dict[str, Any]:
    """Remove an admin term (shipped terms stay) and class every category again."""
    cleaned = clean_term(term)
    if cleaned in SHIPPED_TERMS:
        raise BadRequest(f"'{cleaned}' is one of the shipped terms, which cannot be removed.")
    removed = store.disclosure.remove_term(cleaned)
    return {"term": cleaned, "removed": removed, **reclassify(store)}


def _fresh_terms(store: Store, settings: Settings) -> list[str]:
    known = {t["term"] for t in store.disclosure.admin_terms()} | set(SHIPPED_TERMS)
    return sorted({normalise_term(t) for t in settings.sensitive_categories} - known - {""})


def settings_pending(store: Store, settings: Settings) -> bool:
    """Whether the database's rules or terms lag behind the settings (a read, no lock taken)."""
    rules = store.disclosure.rules()
    return (rules != {"min_count": max(settings.privacy_min_count, 3),
                      "hold_back_days": settings.privacy_hold_back_days, "zone": settings.timezone}
            or bool(_fresh_terms(store, settings)))


def sync_settings(store: Store, settings: Settings) -> None:
    """At start-up: the database applies the settings' k and hold-back, and their terms are in force."""
    store.disclosure.set_rules(min_count=max(settings.privacy_min_count, 3),
                               hold_back_days=settings.privacy_hold_back_days, zone=settings.timezone)
    fresh = _fresh_terms(store, settings)
    for term in fresh:
        store.disclosure.add_term(term, None)
    if fresh:
        reclassify(store)
