"""Incident categories as planners type them: listed from the data, matched whatever the case.

A run's ``categories`` are matched against the categories the stored incidents
carry, ignoring case, accents of spacing aside: "theft", "THEFT" and " Theft "
all mean the category stored as "THEFT" (and every spelling of it that differs
only by case). A name no incident carries is refused in words, with the
categories there are, instead of running and answering "no incidents".
"""

from __future__ import annotations

from typing import Any

from app.errors import BadRequest
from app.store.backends import Store

# How many categories an error message lists before "and N more".
LISTED = 30


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def known(store: Store) -> list[dict[str, Any]]:
    """Every category of the stored incidents, with whether it is sensitive (left out of shared runs)."""
    return [{"name": c["name"], "sensitive": c["sensitive"]} for c in store.disclosure.categories() if c["name"]]


def resolve(store: Store, asked: list[str]) -> list[str]:
    """The stored spellings of the categories ``asked`` for (case and spacing ignored), sorted; refused
    (400) when one matches no category in the data."""
    if not asked:
        return []
    spellings: dict[str, list[str]] = {}
    for category in known(store):
        spellings.setdefault(_key(category["name"]), []).append(category["name"])
    unknown = [name for name in asked if _key(name) not in spellings]
    if unknown:
        names = sorted({c["name"] for c in known(store)})
        listed = ", ".join(names[:LISTED]) + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")
        raise BadRequest(f"No incident has the category {', '.join(map(repr, unknown))}. "
                         + (f"Categories in the data: {listed} (GET /api/v1/categories lists them)."
                            if names else "No incidents have been imported yet."), details={"field": "categories"})
    return sorted({spelling for name in asked for spelling in spellings[_key(name)]})
