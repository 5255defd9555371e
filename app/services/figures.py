"""Populations and indicators per community: uploaded as CSV, versioned, listed.

A file is checked whole before anything is stored (``spatial.figures``); each of
its figure columns becomes a new version of that figure for the boundary set, all
in one transaction, so a refused file changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from app.errors import BadRequest, Conflict, NotFound
from app.store.backends import Store
from spatial.figures import KINDS, CommunityKey, read_figure_table

POPULATION = "population"
# Census years a figure can be for: a typo such as 20200 is refused, not stored.
EARLIEST_YEAR = 1800


@dataclass(frozen=True)
class FigureUpload:
    """What the uploader says about a file: the kind, year, source and unit of its figures."""

    kind: str
    year: int | None = None
    source: str | None = None
    unit: str | None = None
    boundary_set_id: int | None = None
    columns: tuple[str, ...] = ()


def _checked(upload: FigureUpload) -> None:
    if upload.kind not in KINDS:
        raise BadRequest(f"kind must be 'population' or 'indicator', not '{upload.kind}'.")
    if upload.year is not None and not EARLIEST_YEAR <= upload.year <= date.today().year + 1:
        raise BadRequest(f"year {upload.year} is not a year the figures can be for "
                         f"({EARLIEST_YEAR} to {date.today().year + 1}).")


def _boundary_set(store: Store, boundary_set_id: int | None) -> int:
    if boundary_set_id is None:
        active = store.boundaries.active_boundary_set_id()
        if active is None:
            raise Conflict("There is no active boundary set: upload and activate the community boundaries first.")
        return active
    if not store.boundaries.boundary_set_exists(boundary_set_id):
        raise NotFound(f"There is no boundary set {boundary_set_id}.")
    return boundary_set_id


def upload_figures(store: Store, path: Path, *, filename: str, upload: FigureUpload,
                   user_id: int | None) -> dict[str, Any]:
    """Check a CSV of figures and store each of its columns as a new version; returns what was stored."""
    _checked(upload)
    set_id = _boundary_set(store, upload.boundary_set_id)
    keys = [CommunityKey(int(c["id"]), c["name"], c["code"]) for c in store.figures.community_keys(set_id)]
    table = read_figure_table(path, keys, kind=upload.kind, columns=upload.columns or None)
    stored = []
    for column, values in table.figures.items():
        name = POPULATION if upload.kind == POPULATION else column
        figure = store.figures.add_figure(
            boundary_set_id=set_id, kind=upload.kind, name=name, unit=upload.unit, year=upload.year,
            source=upload.source, filename=filename, user_id=user_id, values=values)
        stored.append({**figure, "name": name, "column": column, "communities": len(values)})
    store.session.commit()
    return {"boundary_set_id": set_id, "kind": upload.kind, "year": upload.year, "source": upload.source,
            "unit": upload.unit, "keyed_by": table.key, "community_column": table.key_column, "rows": table.rows,
            "figures": stored, "ignored_columns": table.ignored_columns, "warnings": table.warnings}


def list_figures(store: Store, boundary_set_id: int | None = None) -> list[dict[str, Any]]:
    """Every version of every figure, newest first (of one boundary set, or of all)."""
    if boundary_set_id is not None and not store.boundaries.boundary_set_exists(boundary_set_id):
        raise NotFound(f"There is no boundary set {boundary_set_id}.")
    return store.figures.list_figures(boundary_set_id)
