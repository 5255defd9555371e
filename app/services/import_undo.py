"""Undo an import: remove exactly the rows it inserted, in one transaction, and tell the runs that counted them."""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, NotFound
from app.store import run_counts
from app.store.backends import Store


def undo_import(store: Store, import_id: int, *, user_id: int | None) -> dict[str, Any]:
    """Remove the rows import ``import_id`` inserted and mark it undone; commit, or change nothing.

    Refused (:class:`Conflict`) while a running analysis may be counting those
    rows, and for imports that are not completed. Finished runs that counted
    any of the rows are marked "data changed since this run".
    """
    record = store.imports.get_import(import_id)
    if record is None:
        raise NotFound(f"There is no import {import_id}.")
    if record.status == "undone":
        raise Conflict(f"Import {import_id} was already undone on {record.undone_at:%Y-%m-%d %H:%M} UTC.")
    if record.status != "completed":
        raise Conflict(f"Import {import_id} is {record.status}: only a completed import can be undone "
                       "(a failed one wrote nothing).")
    source, finished_at, filename = record.source, record.finished_at, record.filename
    try:
        # The same locks as an import of this source: no import or boundary activation runs meanwhile.
        store.incidents.lock_source(source)
        running, counted = _runs_counting(store, import_id, finished_at)
        if running:
            raise Conflict(
                f"Analysis run(s) {', '.join(map(str, running))} may be counting the rows of import {import_id} "
                "right now. Undo it when they have finished; nothing was changed."
            )
        removed = store.incidents.delete_import_rows(import_id)
        store.imports.mark_undone(import_id, user_id=user_id)
        store.counts.mark_data_changed(
            counted, f"Import {import_id} ({filename}) was undone: {removed:,} incidents this run may "
                              "have counted were removed. Run the analysis again for current figures.")
        store.session.commit()
    except Exception:
        store.session.rollback()
        raise
    return {"import_id": import_id, "status": "undone", "removed": removed, "source": source,
            "runs_marked_data_changed": counted}


def _runs_counting(store: Store, import_id: int, since) -> tuple[list[int], list[int]]:
    """(running runs whose filters take some of the import's rows, finished runs that counted some)."""
    running: list[int] = []
    counted: list[int] = []
    for run in store.counts.runs_that_may_count(since):
        parameters = run_counts.loads(run["parameters"]) or {}
        provenance = run_counts.loads(run["provenance"]) or {}
        ids = [c["id"] for c in provenance.get("communities", [])] or store.counts.community_ids_of(
            run["boundary_set_id"], parameters.get("communities") or None)
        if store.counts.import_rows_counted(import_id, run_counts.RunFilters.of_run(parameters, ids)):
            (running if run["status"] == "running" else counted).append(run["id"])
    return running, counted
