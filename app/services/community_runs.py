"""One community's hot-spot runs as a reader may see them, and its place in a run's ranking.

The community page, its brief and the comparison of its two latest runs all ask the same two
questions, so they are answered here once:

- ``latest_visible_runs``: the newest completed hot-spot runs of this community that the audience
  may open (``Audience.sees_run``: below analyst shared runs only, coarse enough, under today's
  rules; a scoped partner only runs of its communities), optionally only those that had ended by a
  given moment, the latest period first (a brief for March shows the run whose period ends latest
  by then, not a later one, nor an earlier period that happened to be run last).
- ``place_in_ranking``: the community's rank in one run, out of how many, with the rows the reader
  may be shown. Below analyst the ranking is worked out from the published cells only; "of" counts
  every community of the run, and a partner's scope only limits which rows it is shown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from app.privacy import Audience
from app.runs import Run
from app.services import run_results, run_words
from app.store.backends import Store

PAGE = 20  # runs read per query while looking for visible ones


def latest_visible_runs(store: Store, audience: Audience, community_id: int, *, limit: int = 1,
                        ended_by: datetime | None = None) -> list[Run]:
    """The ``limit`` newest completed hot-spot runs of this community the audience may open, newest first.

    With ``ended_by`` (an aware moment) only runs whose period had ended by then
    (``run_words.period_end``), the latest period end first (ties: the newest run): a run of the
    second quarter made after a run of the fourth does not stand for December. Every run returned
    passes ``Audience.sees_run``, so a newer run this reader may not see never hides an older one it may."""
    if ended_by is not None:
        had_ended = [run for run in _visible_runs(store, audience, community_id)
                     if run_words.period_end(run) <= ended_by]
        return sorted(had_ended, key=lambda run: (run_words.period_end(run), run.id), reverse=True)[:limit]
    found: list[Run] = []
    for run in _visible_runs(store, audience, community_id):
        found.append(run)
        if len(found) >= limit:
            break
    return found


def _visible_runs(store: Store, audience: Audience, community_id: int) -> Iterator[Run]:
    """The community's completed hot-spot runs the audience may open, newest first, read page by page
    (the store's filter is coarse: shared, resolution)."""
    before_id = None
    while True:
        batch = store.maps.latest_completed_runs_with_community(
            community_id, shared_up_to_resolution=None if audience.raw else audience.max_resolution,
            limit=PAGE, before_id=before_id)
        yield from (run for run in batch if audience.sees_run(run))
        if len(batch) < PAGE:
            return
        before_id = batch[-1].id


def latest_visible_run(store: Store, audience: Audience, community_id: int, *,
                       ended_by: datetime | None = None) -> Run | None:
    """The newest of ``latest_visible_runs`` (None: no run this audience may see)."""
    runs = latest_visible_runs(store, audience, community_id, limit=1, ended_by=ended_by)
    return runs[0] if runs else None


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

