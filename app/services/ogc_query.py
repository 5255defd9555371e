"""What an OGC API – Features items request asks for: ``datetime`` (RFC 3339 instants and intervals) and
Part 3 simple property filters (``?gi_bin=3``), checked against each collection's queryables.

Pure parsing: no database, no web framework. A value a GIS clerk typed wrong is refused with a
message saying what was expected (``BadRequest``, 400), never silently ignored: a mistyped filter
that returned every feature would look like an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import BadRequest

# The parameters of the items request itself; anything else must be a queryable of the collection.
ITEM_PARAMETERS = frozenset({"f", "limit", "bbox", "bbox-crs", "datetime", "cursor"})
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OPEN = ("..", "")
WHOLE_NUMBER = re.compile(r"[-+]?[0-9]{1,18}")
ONE_TICK = timedelta(microseconds=1)  # stored times have microseconds: an inclusive end is this much later


@dataclass(frozen=True)
class Interval:
    """A time interval [start, end): either end open (None). An instant is [t, t + 1 µs)."""

    start: datetime | None
    end: datetime | None

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """Whether [start, end) (either open) shares a moment with this interval."""
        return ((self.end is None or start is None or start < self.end)
                and (self.start is None or end is None or self.start < end))


@dataclass(frozen=True)
class Queryable:
    """A property a collection may be filtered on with ``?name=value`` (equality)."""

    name: str
    type: str  # "integer" or "string" (JSON Schema)
    title: str

    def parse(self, text: str) -> int | str:
        if self.type == "integer":
            # ASCII digits only: int() would also read " 3", "3_0" and "٣", and an unbounded one overflows SQL.
            if WHOLE_NUMBER.fullmatch(text) is None:
                raise BadRequest(f"{self.name} must be a whole number (for example {self.name}=3), not {text!r}.")
            return int(text)
        if len(text) > 200 or "\x00" in text:
            raise BadRequest(f"{self.name} is not a value any feature holds.")
        return text


@dataclass(frozen=True)
class ItemQuery:
    """What an items request asks for, checked: box, time, property filters (name -> value), page."""

    bbox: tuple[float, float, float, float] | None = None
    interval: Interval | None = None
    properties: Mapping[str, int | str] = field(default_factory=dict)
    limit: int = 100
    cursor: str | None = None


def parse_datetime(text: str | None, zone: ZoneInfo) -> Interval | None:
    """``datetime`` as an interval: an instant (``2025-03-01T10:00:00Z``), a day (``2025-03-01``: the
    whole day), or ``start/end`` with either end open (``..`` or empty). Ends are inclusive, as the
    standard says; a time without an offset, and a day, are read in the service's time zone."""
    if text is None or text.strip() == "":
        return None
    text = text.strip()
    if "/" not in text:
        return Interval(_moment(text, zone, end=False), _moment(text, zone, end=True))
    first, _, last = text.partition("/")
    if "/" in last:
        raise BadRequest("datetime is one instant or one interval start/end, not more than two parts.")
    if first.strip() in OPEN and last.strip() in OPEN:
        raise BadRequest("datetime cannot be open at both ends (../..): leave it out to read every time.")
    start: datetime | None = None if first.strip() in OPEN else _moment(first.strip(), zone, end=False)
    end: datetime | None = None if last.strip() in OPEN else _moment(last.strip(), zone, end=True)
    if start is not None and end is not None and start >= end:
        raise BadRequest("datetime's interval must start before it ends (start/end).")
    return Interval(start, end)


def _moment(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A start (or, ``end``, the exclusive end just after) of an RFC 3339 date-time or full date."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=zone)
            return moment.astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise BadRequest(f"datetime {text!r} is not an RFC 3339 date or time: give for example "
                         "2025-03-01T10:00:00Z, 2025-03-01, or an interval 2025-01-01/2025-03-31 "
                         "(.. for an open end).") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"datetime {text!r} is past the last date that can be stored.") from None
    return parsed + ONE_TICK if end else parsed


def run_period(start: str | None, end: str | None, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """A run's period [start, end) from its parameters (text as submitted; None: open)."""
    return _stored(start, zone), _stored(end, zone)


def _stored(text: str | None, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None  # a period the service did not write: treated as open
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def one_value_each(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The query's parameters by name; 400 when a name is given more than once (``?gi_bin=3&gi_bin=-3``).

    Keeping only one of them (as a plain dict of the query does, the last) would answer a question the
    clerk did not ask; the standard's simple filters take one value each."""
    params: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in items:
        if name in params and name not in repeated:
            repeated.append(name)
        params[name] = value
    if repeated:
        names = ", ".join(repeated)
        raise BadRequest(f"Give each parameter once: {names} appeared more than once. A filter takes one value; "
                         "for several values make one request per value.")
    return params


def property_filters(params: Mapping[str, str], queryables: list[Queryable], collection_id: str) -> dict[str, int | str]:
    """The query's simple property filters, each parsed by its queryable; 400 for any other parameter."""
    by_name = {q.name: q for q in queryables}
    found: dict[str, int | str] = {}
    for name, text in params.items():
        if name in ITEM_PARAMETERS:
            continue
        if name not in by_name:
            offered = ", ".join(sorted(by_name)) or "none"
            raise BadRequest(f"{collection_id!r} cannot be filtered on {name!r}. Its queryables are: {offered} "
                             f"(and limit, bbox, datetime); see /ogc/collections/{collection_id}/queryables.")
        found[name] = by_name[name].parse(text)
    return found


def check_bbox_crs(params: Mapping[str, str]) -> None:
    """Only lon/lat (CRS84) boxes are served."""
    crs = params.get("bbox-crs")
    if crs is not None and crs != CRS84:
        raise BadRequest(f"bbox-crs must be {CRS84} (longitude, latitude); other systems are not served.")


def queryables_document(collection_id: str, title: str, queryables: list[Queryable], url: str,
                        temporal: str | None) -> dict[str, Any]:
    """The JSON Schema of a collection's queryables (Part 3), with the time property ``datetime`` filters."""
    properties: dict[str, Any] = {q.name: {"title": q.title, "type": q.type} for q in queryables}
    if temporal:
        properties["datetime"] = {"title": temporal, "type": "string", "format": "date-time"}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": url, "type": "object",
            "title": f"{title}: queryables", "properties": properties, "additionalProperties": False}
