"""Community briefs written to files: one by ``hotspots briefs make``, or every due one by the scheduled job.

A file is written whole or not at all (to a temporary name, then renamed), its SHA-256 recorded in
``brief_history`` with the community, the month and who it was made for; a brief that cannot be made
(no such community, no printer) is recorded as failed with the reason in words, once. Scheduled briefs
are partner briefs, each made for a partner of the one community it is about (``partner_audience``): it
holds exactly what that community's partner sees on its own pages, and nothing of any other community.

The job writes each community's brief once per slot (an ISO week or a calendar month) to
``<briefs_dir>/<slot>/<community>-<id>.pdf``; a slot already written is left alone, so a restart or a
second service process does not write it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.audit import record
from app.auth import Principal
from app.errors import ServiceError
from app.privacy import Audience, audience_for
from app.services.brief_pdf import html_to_pdf
from app.services.briefs import audience_label, community_brief
from app.settings import Settings
from app.store.backends import Store
from app.templating import render_brief

log = logging.getLogger(__name__)
SCHEDULED = "scheduled briefs"  # who the history and the audit log say made the job's briefs


@dataclass(frozen=True)
class BriefFile:
    """One brief written (or not): where, which month, its SHA-256 or the reason it failed."""

    community_id: int | None
    community: str
    period: str | None
    audience: str
    path: Path
    sha256: str | None
    error: str | None = None


def partner_audience(settings: Settings, community: str) -> Audience:
    """The audience of a partner brief of ``community``: a partner of that community only (shared runs,
    published figures, counts under k hidden; no other community's rows, rates or run-wide totals)."""
    reader = Principal(user_id=0, name="partner briefs", role="partner", communities=frozenset({community}))
    return audience_for(reader, settings)


def police_audience(settings: Settings) -> Audience:
    """The audience of a police brief: exact counts, every run (not to be forwarded outside the police)."""
    return audience_for(Principal(user_id=0, name="police briefs", role="analyst"), settings)


def brief_audience(store: Store, settings: Settings, community_id: int, *, police: bool = False) -> Audience:
    """Who a brief of this community is made for: police, or a partner of that community alone (an unknown
    community gets a partner of none, so the brief is refused as not found)."""
    if police:
        return police_audience(settings)
    return partner_audience(settings, _community_name(store, community_id) or "")


def slot_of(schedule: str, today: date) -> str:
    """The folder of a schedule's current slot: "2026-W49" (weekly) or "2026-12" (monthly)."""
    if schedule == "weekly":
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    return today.strftime("%Y-%m")


def file_name(community: str, community_id: int | None, period: str | None) -> str:
    """A safe file name a clerk can read: "saint-george-basseterre-3-2026-11.pdf" (no id: not a community)."""
    slug = re.sub(r"[^a-z0-9]+", "-", community.lower()).strip("-")[:60] or "community"
    return slug + (f"-{community_id}" if community_id is not None else "") + (f"-{period}" if period else "") + ".pdf"


def write_brief(store: Store, settings: Settings, community_id: int, period: str | None, out: Path, *,
                police: bool = False, actor: str, again: bool = True) -> BriefFile:
    """Make one brief as a PDF at ``out`` (police, or a partner of this community alone: ``brief_audience``)
    and record it once in the history and the audit log.

    A brief that cannot be made (no such community, a bad period, no printer, a folder it cannot write to)
    is returned with its reason in ``error``, recorded once, and nothing raised: the caller reports it and
    never records it again. ``again=False`` (the scheduled job, every hour): a failure already recorded as
    the last word on this file, for the same reason, is not recorded a second time. Below analyst the
    figures are read as the restricted database role (``_read_as``)."""
    name = _community_name(store, community_id)
    audience = brief_audience(store, settings, community_id, police=police)
    try:
        context = _read_as(store, audience, lambda: community_brief(store, settings, community_id, audience, period))
        pdf = html_to_pdf(render_brief(context), settings)
        _write_whole(out, pdf)
    except (ServiceError, OSError) as exc:
        store.session.rollback()
        reason = exc.message if isinstance(exc, ServiceError) else f"cannot write {out}: {exc.strerror or exc}"
        failed = BriefFile(community_id if name else None, name or f"community {community_id}", period,
                           audience_label(audience), out, None, reason)
        _record_failure(store, failed, actor, again=again)
        return failed
    made = BriefFile(community_id, name or str(context["community"]["name"]), context["period"],
                     audience_label(audience), out, hashlib.sha256(pdf).hexdigest())
    _record(store, made, actor)
    return made


def refuse_brief(store: Store, community: str, period: str | None, out: Path, reason: str, *, police: bool = False,
                 actor: str, again: bool = True) -> BriefFile:
    """Record (once, as ``write_brief`` does) a brief refused before it could be started: no such community."""
    failed = BriefFile(None, community, period, "police" if police else "partner", out, None, reason)
    _record_failure(store, failed, actor, again=again)
    return failed


def write_due_briefs(store: Store, settings: Settings, today: date | None = None) -> list[BriefFile]:
    """Write every brief of the current slot not written yet (the scheduled job's one pass).

    Each is a partner brief of its community alone. A brief that failed is tried again on the next pass;
    its failure is recorded again only when the reason changed."""
    if settings.briefs_dir is None or settings.briefs_schedule == "off":
        return []
    today = today or datetime.now(settings.zone).date()
    folder = settings.briefs_dir / slot_of(settings.briefs_schedule, today)
    active = {c["name"]: c["id"] for c in store.boundaries.list_active_communities_aggregated()}
    wanted = settings.briefs_communities or sorted(active)
    made = []
    for name in wanted:
        if name not in active:
            made.append(refuse_brief(store, name, None, folder / file_name(name, None, None),
                                     f"There is no community named {name!r} in the active boundary set "
                                     "(HOTSPOTS_BRIEFS_COMMUNITIES).", actor=SCHEDULED, again=False))
            continue
        out = folder / file_name(name, active[name], None)
        if store.briefs.brief_written(str(out)):
            continue
        brief = write_brief(store, settings, active[name], None, out, actor=SCHEDULED, again=False)
        if brief.error:  # recorded; the other communities still get theirs
            log.warning("brief of %s not written: %s", name, brief.error)
        made.append(brief)
    return made


def history(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """The newest briefs written (or failed), newest first."""
    return store.briefs.brief_history(limit=limit)


def _read_as(store: Store, audience: Audience, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Below analyst, ``read()`` runs as the restricted database role on PostGIS (which cannot read the
    incidents), as a partner's own request does; the history and the audit are then written as the
    service's role. The store's session must keep one connection (``app.db.RequestSessions``)."""
    if audience.raw:
        return read()
    store.database.restrict()
    try:
        return read()
    finally:
        store.session.rollback()
        store.database.unrestrict()
        store.session.info.pop("restricted", None)


def _community_name(store: Store, community_id: int) -> str | None:
    found = store.boundaries.get_community_shape(community_id)
    return None if found is None else str(found["name"])


def _write_whole(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` whole or not at all (a reader never sees half a PDF)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".brief-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _record_failure(store: Store, failed: BriefFile, actor: str, *, again: bool) -> None:
    """Record a failed brief, unless (``again=False``) the history's last word on its file is this same failure."""
    if not again:
        last = store.briefs.last_brief(str(failed.path))
        if last is not None and last["status"] == "failed" and last["error"] == failed.error:
            return
    _record(store, failed, actor)


def _record(store: Store, made: BriefFile, actor: str) -> None:
    """The history row and the audit entry of one brief, committed together."""
    store.briefs.record_brief(community_id=made.community_id, community=made.community, period=made.period,
                              audience=made.audience, path=str(made.path), sha256=made.sha256, error=made.error)
    record(store, action="brief.write", outcome="ok" if made.sha256 else "failed", actor=actor,
           target=str(made.path), details={"community": made.community, "period": made.period,
                                           "audience": made.audience, "sha256": made.sha256, "error": made.error})

