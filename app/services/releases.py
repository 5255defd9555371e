"""The publication calendar and the release log of shared runs (disclosure control against differencing).

Two shared runs whose filters overlap can be subtracted cell by cell: a run of January
minus a run of January and one more day gives that day's incidents per cell; robbery
minus robbery + homicide locates the homicides. So a shared run must

1. cover a whole calendar month, quarter or year (local time), ended at least the
   hold-back ago, or everything up to the start of such a month (no start, no end), so
   nobody can ask for one day more or less; and
2. pass the release log: against every earlier shared run at the same resolution whose
   period and categories (and sources) overlap its own, no cell shown in both (k or more
   incidents in each) may differ by 1 to k-1 incidents. Earlier runs still queued or
   running are counted again for the comparison, so two runs submitted together are
   checked too.

What this does not stop: sums and differences of three or more releases (for example a
quarter minus two of its months, each checked on its own against the quarter), which a
calendar of months, quarters and years keeps to a few combinations; see the README.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from app.errors import Unprocessable
from app.store.backends import Store
from app.store.tiles import aggregate_to_parents

PERIOD_MONTHS = {1: "calendar month", 3: "calendar quarter", 12: "calendar year"}


def calendar_period(start: datetime | None, end: datetime | None, *, zone: ZoneInfo, hold_back_days: int,
                    now: datetime | None = None) -> tuple[datetime | None, datetime]:
    """The (start, end) a shared run counts, local midnights on the 1st of a month, or refuse (422).

    No start and no end: everything before the first of the latest month that began at least
    ``hold_back_days`` ago.
    """
    now = now or datetime.now(UTC)
    latest_end = _month_start((now - timedelta(days=hold_back_days)).astimezone(zone))
    if start is None and end is None:
        return None, latest_end
    if start is None or end is None:
        raise _period_refused("A shared run needs both start and end (a whole calendar month, quarter or year), "
                            "or neither (everything up to the last whole month).")
    start, end = start.astimezone(zone), end.astimezone(zone)
    if start != _month_start(start) or end != _month_start(end):
        raise _period_refused(
            "A shared run must cover whole calendar months: start and end must be the 1st of a month at "
            f"00:00 local time ({zone.key}); for example start 2024-01-01, end 2024-04-01 for the first "
            "quarter. Partners cannot be given periods that differ by a few days, which could be subtracted.")
    months = (end.year - start.year) * 12 + end.month - start.month
    kind = PERIOD_MONTHS.get(months)
    if kind is None or (months == 3 and start.month not in (1, 4, 7, 10)) or (months == 12 and start.month != 1):
        raise _period_refused(
            "A shared run must cover one calendar month, one calendar quarter (January, April, July or "
            f"October to three months later) or one calendar year (January to January); this asks for "
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d}.")
    if end > latest_end:
        raise _period_refused(f"A shared run may end no later than {latest_end:%Y-%m-%d}: the period must be over "
                            + (f"and {hold_back_days} days held back." if hold_back_days else "."))
    return start, end


def _period_refused(message: str) -> Unprocessable:
    """A refusal of the asked period (``details.field`` lets the form show it beside the period)."""
    return Unprocessable(message, details={"field": "period"})


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def release_conflict(store: Store, parameters: dict[str, Any], cells: np.ndarray, counts: np.ndarray, *,
                     min_count: int, run_id: int | None, count_run) -> str | None:
    """Why this shared run may not be published next to an earlier one (None: it may).

    ``cells``/``counts``: the new run's counts per cell; ``count_run(parameters)`` counts an
    earlier run not finished yet the same way. Earlier runs at another resolution count too (a
    coarse cell minus its finer children shown gives the hidden children's sum), and so do runs
    once shared and since withdrawn (partners may have kept them).
    """
    for earlier in store.disclosure.earlier_shared_runs(before_id=run_id):
        theirs = earlier["parameters"]
        if not _overlap(parameters, theirs):
            continue
        if earlier["status"] == "completed":
            their_cells, their_counts = store.disclosure.stored_cell_counts(earlier["id"])
        else:
            their_cells, their_counts = count_run(theirs)
        mine_res, their_res = parameters["resolution"], theirs["resolution"]
        if mine_res == their_res:
            exposed = exposing_cells(cells, counts, their_cells, their_counts, min_count)
        elif mine_res > their_res:
            exposed = exposing_children(cells, counts, their_cells, their_counts, their_res, min_count)
        else:
            exposed = exposing_children(their_cells, their_counts, cells, counts, mine_res, min_count)
        if exposed:
            return (f"This shared run would be published next to shared run {earlier['id']} "
                    f"({_describe(theirs)}, resolution {their_res}), and in {exposed} cell(s) subtracting one "
                    f"from the other would reveal counts of 1 to {min_count - 1} incidents. Use the same "
                    f"calendar period, categories and resolution as run {earlier['id']}, or a period or "
                    "category group that does not overlap it; a new shared run of the same period after late "
                    "reports must wait for the next period.")
    return None


def exposing_cells(cells_a: np.ndarray, counts_a: np.ndarray, cells_b: np.ndarray, counts_b: np.ndarray,
                   min_count: int) -> int:
    """How many cells shown in both (k or more in each) differ by 1 to k-1."""
    common, in_a, in_b = np.intersect1d(cells_a, cells_b, assume_unique=True, return_indices=True)
    a, b = counts_a[in_a], counts_b[in_b]
    shown = (a >= min_count) & (b >= min_count)
    difference = np.abs(a - b)
    return int(np.count_nonzero(shown & (difference >= 1) & (difference < min_count)))


def exposing_children(fine_cells: np.ndarray, fine_counts: np.ndarray, coarse_cells: np.ndarray,
                      coarse_counts: np.ndarray, coarse_resolution: int, min_count: int) -> int:
    """How many coarse cells shown (k or more) exceed the sum of their finer children shown by 1 to k-1:
    that difference is the hidden children's sum, which would then be known."""
    parents, *_, children_shown = aggregate_to_parents(fine_cells, fine_counts, np.zeros(len(fine_cells)),
                                                        coarse_resolution, min_count)
    visible = coarse_counts >= min_count
    below = np.zeros(len(coarse_cells), dtype=np.int64)
    if len(parents):
        position = np.clip(np.searchsorted(parents, coarse_cells), 0, len(parents) - 1)
        found = parents[position] == coarse_cells
        below[found] = children_shown[position[found]]
    difference = coarse_counts - below
    return int(np.count_nonzero(visible & (difference >= 1) & (difference < min_count)))


def _overlap(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    def window(p):
        start = datetime.fromisoformat(p["start"]) if p.get("start") else datetime.min.replace(tzinfo=UTC)
        end = datetime.fromisoformat(p["end"]) if p.get("end") else datetime.max.replace(tzinfo=UTC)
        return start, end

    (a_start, a_end), (b_start, b_end) = window(mine), window(theirs)
    if a_start >= b_end or b_start >= a_end:
        return False
    for key in ("categories", "sources"):
        a, b = set(mine.get(key) or []), set(theirs.get(key) or [])
        if a and b and not a & b:
            return False  # disjoint groups: their difference is no count of anything
    return True


def _describe(parameters: dict[str, Any]) -> str:
    period = " to ".join(str(parameters.get(k) or "…")[:10] for k in ("start", "end"))
    categories = ", ".join(parameters.get("categories") or []) or "all categories"
    return f"{period}, {categories}"


