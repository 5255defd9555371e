"""Import an incident file: read, validate, de-duplicate and COPY, all or nothing."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from app.services import sensitive_categories
from app.settings import Settings
from app.store.backends import Store
from spatial.assign import CommunityLocator
from spatial.errors import InvalidUpload, SpatialInputError
from spatial.incidents_io import (
    Chunk, FileReading, IncidentBatch, ReadOptions, preview_rows, read_incident_file, repeats_another_row,
)
from spatial.row_checks import refuse_if_swapped

log = logging.getLogger(__name__)

# The report lists at most this many rows of each kind; the counts are always complete.
REPORT_ROW_LIMIT = 1000
# A dry run shows this many rows as they would be stored.
PREVIEW_LIMIT = 10

Progress = Callable[[int, float], None]


@dataclass
class ImportReport:
    """What happened to every row of a file."""

    import_id: int | None
    filename: str
    source: str
    status: str = "completed"
    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    outside_communities: int = 0
    repeated_rows: int = 0
    dry_run: bool = False
    columns: dict[str, str | None] = field(default_factory=dict)
    # Why each column was chosen, and the candidates passed over with why.
    column_reasons: dict[str, str] = field(default_factory=dict)
    column_alternatives: dict[str, list[str]] = field(default_factory=dict)
    date_order: str = ""
    date_order_reason: str = ""
    # What was assumed or adjusted while reading (never silent), one sentence each.
    warnings: list[str] = field(default_factory=list)
    # A dry run's first rows as they would be stored.
    preview: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)
    # New categories this file brought: those classed sensitive (left out of everything shared)
    # and near misses an admin should look at (a term added by an admin reclasses them).
    sensitive_categories: list[dict[str, Any]] = field(default_factory=list)
    near_misses: list[dict[str, Any]] = field(default_factory=list)
    categories: set[str] = field(default_factory=set, repr=False)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("categories")
        return found

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("rows_read", "inserted", "duplicates", "rejected")}


def read_options(settings: Settings, *, zone: ZoneInfo, day_first: bool | None, layer: str | None = None,
                 **columns: str | None) -> ReadOptions:
    """How this service reads a file: the importer's column choices, zone and date order; the rest from settings."""
    return ReadOptions(
        columns={field_name: column for field_name, column in columns.items() if column}, timezone=zone,
        day_first=day_first, date_order=settings.date_order, service_area=settings.service_area,
        chunk_rows=settings.import_chunk_rows, h3_resolution=settings.h3_base_resolution, layer=layer,
    )


def import_incidents(
    store: Store,
    path: Path,
    *,
    filename: str,
    source: str,
    options: ReadOptions,
    user_id: int | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import one file in a single transaction and return its report.

    A file that cannot be used at all raises :class:`InvalidUpload` and writes
    nothing. Any other failure rolls the data back and leaves a ``failed``
    import record. A ``dry_run`` reads the whole file and reports what an
    import would do (mapping, date order, counts, first rows) without writing.
    """
    source = _clean_source(source)
    reading, chunks = read_incident_file(path, options)
    report = _new_report(reading, filename, source, dry_run)
    if dry_run:
        try:
            _read_all(store, chunks, report, reading, lambda: nullcontext(_CountingWriter(report)), progress,
                      store_classes=False)
        finally:
            store.session.rollback()
        return report
    try:
        report.import_id = store.imports.start_import(filename=filename, source=source, user_id=user_id)
        store.incidents.lock_source(source)
        _read_all(store, chunks, report, reading, lambda: store.incidents.incident_writer(), progress,
                  store_classes=True)
        store.imports.finish_import(report.import_id, status="completed",
                                   counts=report.counts(), report=report.to_dict())
        store.session.commit()
    except SpatialInputError:
        store.session.rollback()
        raise
    except Exception as exc:
        store.session.rollback()
        log.exception("import of %s failed", filename)
        store.imports.record_failed_import(filename=filename, source=source, user_id=user_id,
                                          error=f"{type(exc).__name__}: import stopped and was rolled back")
        store.session.commit()
        raise
    return report


def _new_report(reading: FileReading, filename: str, source: str, dry_run: bool) -> ImportReport:
    return ImportReport(
        import_id=None, filename=filename, source=source, dry_run=dry_run, columns=vars(reading.mapping).copy(),
        column_reasons=dict(reading.choice.reasons), column_alternatives=dict(reading.choice.alternatives),
        date_order=reading.date_order.label, date_order_reason=reading.date_order.explanation,
    )


class _CountingWriter:
    """Stands in for the database in a dry run: counts, and keeps the first rows for the preview."""

    def __init__(self, report: ImportReport) -> None:
        self._report = report

    def write(self, batch: IncidentBatch, **_: Any) -> int:
        room = PREVIEW_LIMIT - len(self._report.preview)
        if room > 0:
            self._report.preview.extend(preview_rows(batch, room))
        return len(batch)


def _read_all(store: Store, chunks, report: ImportReport, reading: FileReading, open_writer,
              progress: Progress | None, *, store_classes: bool) -> None:
    """Validate, de-duplicate, place and write every chunk; then finish the report.

    Boundaries and stored ids are read before the writer opens: no other statement
    can run on the connection while a COPY is open.
    """
    locator = CommunityLocator(*store.boundaries.active_community_shapes())
    stored = store.incidents.stored_external_ids(report.source)
    seen: set[str] = set()
    reasons: Counter[str] = Counter()
    with open_writer() as writer:
        for chunk in chunks:
            _load_chunk(writer, chunk, report, reasons, locator, stored, seen)
            if progress:
                progress(report.rows_read, chunk.progress)
    report.rejected_by_reason = dict(reasons.most_common())
    # New categories are classed (sensitive or not) once; a dry run classes them without storing.
    found = sensitive_categories.classify_new(store, report.categories, save=store_classes)
    for key, value in sensitive_categories.import_report(found).items():
        setattr(report, key, value)
    report.warnings = reading.warnings() + _row_warnings(report, locator)
    if report.inserted == 0 and report.duplicates == 0:
        raise InvalidUpload(_nothing_usable_message(report), details=report.to_dict())


def _row_warnings(report: ImportReport, locator: CommunityLocator) -> list[str]:
    notes = []
    if report.repeated_rows:
        notes.append(f"{report.repeated_rows:,} rows repeat another row exactly: kept as separate incidents")
    if report.outside_communities and locator.tree is not None:
        notes.append(f"{report.outside_communities:,} incidents lie in no community of the active boundary set: "
                     "kept, but no community page or analysis counts them")
    return notes


def _load_chunk(writer, chunk: Chunk, report: ImportReport, reasons: Counter[str],
                locator: CommunityLocator, stored: set[str], seen: set[str]) -> None:
    report.rows_read += chunk.rows_read
    report.rejected += len(chunk.rejections)
    for rejection in chunk.rejections:
        reasons[_reason_kind(rejection.reason)] += 1
        if len(report.rejected_rows) < REPORT_ROW_LIMIT:
            report.rejected_rows.append({"row": rejection.row, "reason": rejection.reason})
    batch = _drop_duplicates(chunk.batch, report, stored, seen)
    if batch.category is None:
        report.categories.add("")
    else:
        report.categories.update("" if c is None or c != c else str(c) for c in set(batch.category.tolist()))
    report.repeated_rows += int(repeats_another_row(batch.external_id).sum())
    community = locator.locate(batch.lon, batch.lat)
    if community is not None:
        outside = int((community < 0).sum())
        if outside * 2 > len(community):  # most rows in no community: are the columns swapped?
            swapped = locator.locate(batch.lat, batch.lon)
            inside_if_swapped = 0 if swapped is None else int(np.count_nonzero(swapped >= 0))
            refuse_if_swapped(outside, inside_if_swapped, len(community), "every community")
        report.outside_communities += int((community < 0).sum())
        community = np.where(community < 0, np.nan, community)
    report.inserted += writer.write(batch, source=report.source, import_id=report.import_id, community_id=community)


def _drop_duplicates(batch: IncidentBatch, report: ImportReport, stored: set[str], seen: set[str]) -> IncidentBatch:
    """Remove rows whose id was stored before this import or repeats an earlier row of it.

    ``seen`` grows with every row written, so repeats across chunks are caught too.
    """
    drop = np.zeros(len(batch), dtype=bool)
    already = np.zeros(len(batch), dtype=bool)
    for i, external_id in enumerate(batch.external_id.tolist()):
        if external_id in stored:
            drop[i] = already[i] = True
        elif external_id in seen:
            drop[i] = True
        else:
            seen.add(external_id)
    report.duplicates += int(drop.sum())
    for i in np.flatnonzero(drop)[: max(REPORT_ROW_LIMIT - len(report.duplicate_rows), 0)]:
        why = "already imported" if already[i] else "repeats an earlier row of this file"
        report.duplicate_rows.append({"row": int(batch.rows[i]), "external_id": str(batch.external_id[i]), "reason": why})
    return _select(batch, ~drop) if drop.any() else batch


def _select(batch: IncidentBatch, keep: np.ndarray) -> IncidentBatch:
    def pick(values):
        if values is None:
            return None
        if hasattr(values, "iloc"):
            return values[keep].reset_index(drop=True)
        if isinstance(values, list):
            return [v for v, k in zip(values, keep) if k]
        return values[keep]

    return IncidentBatch(**{name: pick(getattr(batch, name)) for name in batch.__dataclass_fields__})


def _reason_kind(reason: str) -> str:
    """Group reasons for the summary: 'date '2031-01-01' is in the future' -> 'date is in the future'."""
    for kind in ("missing coordinates", "coordinates are not numbers", "not finite", "out of range",
                 "0,0", "outside the service area", "missing date", "not a recognisable date",
                 "in the future", "no point geometry"):
        if kind in reason:
            return kind
    return reason


def _clean_source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 100:
        raise InvalidUpload("The source name must be 1 to 100 characters, for example 'rsknpf-cad'.")
    return source


def _nothing_usable_message(report: ImportReport) -> str:
    if report.rows_read == 0:
        return "The file has no incident rows."
    top = ", ".join(f"{k} ({n})" for k, n in list(report.rejected_by_reason.items())[:3])
    return f"None of the {report.rows_read} rows could be imported: {top}. Nothing was written."
