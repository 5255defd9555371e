"""Time steps of a space-time cube: whole local days, weeks, months or quarters inside a period.

A step is a whole calendar unit in the service's time zone (a week starts on
Monday), so every step is as long as the next and a planner reads "March 2026"
rather than "the 30 days after 2 March". What of the period lies outside the
whole steps (the days before the first Monday, the days after the last whole
month) is not counted, and :attr:`TimeSteps.left_out` says so in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

STEPS = ("day", "week", "month", "quarter")
# How many steps a run covers when it names no start (ArcGIS asks for at least ten).
DEFAULT_STEPS = 12


@dataclass(frozen=True)
class TimeSteps:
    """``bounds[i]`` to ``bounds[i + 1]`` is step ``i`` (aware datetimes, local midnights); ``labels[i]`` names it."""

    step: str
    bounds: tuple[datetime, ...]
    labels: tuple[str, ...]
    left_out: str | None = None

    def __len__(self) -> int:
        return len(self.labels)


def _floor(moment: datetime, step: str) -> datetime:
    """The start of the step holding ``moment`` (local time)."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if step == "day":
        return day
    if step == "week":
        return (day - timedelta(days=day.weekday())).replace(tzinfo=moment.tzinfo)
    month = day.replace(day=1)
    if step == "month":
        return month
    return month.replace(month=(month.month - 1) // 3 * 3 + 1)


def _next(start: datetime, step: str) -> datetime:
    """The start of the step after the one starting at ``start`` (a local midnight, daylight saving kept right)."""
    if step in ("day", "week"):
        naive = start.replace(tzinfo=None) + timedelta(days=1 if step == "day" else 7)
        return naive.replace(tzinfo=start.tzinfo)
    months = 1 if step == "month" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + year, month=month + 1)


def _previous(start: datetime, step: str) -> datetime:
    if step in ("day", "week"):
        naive = start.replace(tzinfo=None) - timedelta(days=1 if step == "day" else 7)
        return naive.replace(tzinfo=start.tzinfo)
    months = 1 if step == "month" else 3
    year, month = divmod(start.month - 1 - months, 12)
    return start.replace(year=start.year + year, month=month + 1)


def label(start: datetime, step: str) -> str:
    """"2026-03-02" (day), "week of 2026-03-02", "2026-03", "2026 Q1"."""
    if step == "day":
        return f"{start:%Y-%m-%d}"
    if step == "week":
        return f"week of {start:%Y-%m-%d}"
    if step == "month":
        return f"{start:%Y-%m}"
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def time_steps(start: datetime | None, end: datetime | None, step: str, zone: ZoneInfo,
               now: datetime | None = None) -> TimeSteps:
    """The whole ``step``s of [start, end) in ``zone``.

    No ``end``: up to the start of the current step (only finished steps). No ``start``:
    the ``DEFAULT_STEPS`` steps before the end. Naive datetimes are local time.
    """
    if step not in STEPS:
        raise ValueError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    local_end = (end.replace(tzinfo=zone) if end is not None and end.tzinfo is None else
                 end.astimezone(zone) if end is not None else (now or datetime.now(UTC)).astimezone(zone))
    last = _floor(local_end, step)  # the end of the last whole step
    if start is None:
        first = last
        for _ in range(DEFAULT_STEPS):
            first = _previous(first, step)
        local_start = first
    else:
        local_start = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
        floor = _floor(local_start, step)
        first = floor if floor == local_start else _next(floor, step)
    bounds = [first]
    while bounds[-1] < last:
        bounds.append(_next(bounds[-1], step))
    if bounds[-1] > last:  # no whole step fits
        bounds = [first]
    notes = []
    if first > local_start:
        notes.append(f"{local_start:%Y-%m-%d %H:%M} to {first:%Y-%m-%d %H:%M} before the first whole {step}")
    if end is not None and local_end > bounds[-1] and len(bounds) > 1:
        notes.append(f"{bounds[-1]:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M} after the last whole {step}")
    left_out = ("Counted in whole steps only; left out: " + "; ".join(notes) + ".") if notes else None
    return TimeSteps(step, tuple(bounds), tuple(label(b, step) for b in bounds[:-1]), left_out)
