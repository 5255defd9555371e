"""One community's hot-spot runs as a reader may see them, and its place in a run's ranking.

The community page, its brief and the comparison of its two latest runs all ask the same two
questions, so they are answered here once:

- ``latest_visible_runs``: the newest completed hot-spot runs of this community that the audience
  may open (``Audience.sees_run``: below analyst shared runs only, coarse enough, under today's
  rules; a scoped partner only runs of its communities), optionally only those that had ended by a
  given moment (a brief for March shows the latest run that describes March or earlier, not a
  later one).
- ``place_in_ranking``: the community's rank in one run, out of how many, with the rows the reader
  may be shown. Below analyst the ranking is worked out from the published cells only; "of" counts
  every community of the run, and a partner's scope only limits which rows it is shown.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from app.privacy import Audience
from app.runs import Run
from app.services import run_results
from app.store.backends import Store

PAGE = 20  # runs read per query while looking for visible ones


def latest_visible_runs(store: Store, audience: Audience, community_id: int, *, limit: int = 1,
                        ended_by: datetime | None = None) -> list[Run]:
    """The ``limit`` newest completed hot-spot runs of this community the audience may open, newest first.

    With ``ended_by`` (an aware moment) only runs whose period had ended by then: the run's end, or,
    for a run of every date up to when it ran, the moment it finished. The store's filter is coarse
    (shared, resolution); every run returned also passes ``Audience.sees_run``, and older runs are read
    page by page, so a newer run this reader may not see never hides an older one it may."""
    found: list[Run] = []
    before_id = None
    while len(found) < limit:
        batch = store.maps.latest_completed_runs_with_community(
            community_id, shared_up_to_resolution=None if audience.raw else audience.max_resolution,
            limit=PAGE, before_id=before_id)
        found += [run for run in batch if audience.sees_run(run) and (ended_by is None or ended(run, ended_by))]
        if len(batch) < PAGE:
            break
        before_id = batch[-1].id
    return found[:limit]


def latest_visible_run(store: Store, audience: Audience, community_id: int, *,
                       ended_by: datetime | None = None) -> Run | None:
    """The newest of ``latest_visible_runs`` (None: no run this audience may see)."""
    runs = latest_visible_runs(store, audience, community_id, limit=1, ended_by=ended_by)
    return runs[0] if runs else None


def ended(run: Run, moment: datetime) -> bool:
    """Whether the period the run counted had ended by ``moment`` (its end is exclusive)."""
    end = _moment(run.parameters.end) or _moment(run.finished_at)
    return end is not None and end <= moment


def place_in_ranking(store: Store, run: Run, audience: Audience, community_id: int,
                     rows: int = 10) -> dict[str, Any] | None:
    """This community's place in the run's ranking as the audience may see it (None: not ranked there).

    ``rank``, ``of`` (every community of the run), ``entry`` (its own row), ``ranking`` (the first
    ``rows`` rows this reader may be shown, and its own row after them when it is further down),
    ``run_id`` and ``finished_at``."""
    everyone = run_results.neighbourhood_ranking(store, run, None if audience.raw else
                                                 dataclasses.replace(audience, communities=None))
    shown = everyone if audience.raw else audience.keep(everyone)
    entry = next((r for r in shown if r["community_id"] == community_id), None)
    if entry is None:
        return None
    ranking = shown[:rows]
    if entry not in ranking:
        ranking.append(entry)
    return {"run_id": run.id, "rank": entry["rank"], "of": len(everyone), "entry": entry, "ranking": ranking,
            "finished_at": run.finished_at}


def _moment(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware moment (a time without a zone is UTC, as the stores keep it)."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
