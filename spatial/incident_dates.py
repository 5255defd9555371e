"""Dates in incident files: the order of day and month decided from the whole column, then parsed.

Naive times are read in the given zone; every result is UTC. A date more than
``FUTURE_TOLERANCE`` ahead of now is rejected (clock skew allowed).

Numeric dates such as ``03/04/2025`` are never read by guess: :func:`infer_date_order`
looks at every value of the column first (a first field above 12 proves
day-first, a second field above 12 proves month-first), and :func:`parse_dates`
then reads each such value with that one order, strictly. Excel serial numbers
(days since 1899-12-30) are read as dates. A local time in the hour repeated
when clocks go back is read as its first occurrence; one in the hour skipped
when clocks go forward is moved forward; both are counted for the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from spatial.errors import InvalidUpload

FUTURE_TOLERANCE = timedelta(minutes=10)

# day/month/year (or month/day/year) with an optional time after it.
NUMERIC_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?![\d/.\-])(.*)$"
NUMERIC_PREFIX = r"\d{1,2}[/.\-]\d{1,2}[/.\-]"
# Excel stores dates as days since 1899-12-30; 20000..80000 is 1954..2119.
EXCEL_SERIAL = r"^\d{5}(?:\.\d+)?$"
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_RANGE = (20_000, 80_000)
# How many example rows a message names.
EXAMPLES = 3

# Keys of the counters parse_dates fills, as the report words them.
NOTE_WORDS = {
    "repeated_hour": "local times in the hour repeated when clocks went back were read as the first occurrence",
    "skipped_hour": "local times in the hour skipped when clocks went forward were moved forward",
    "excel_serial": "dates were Excel serial numbers (days since 1899-12-30)",
}


@dataclass(frozen=True)
class DateOrder:
    """How numeric dates such as 03/04/2025 are read, and why.

    ``day_first`` is ``None`` when the column has no such date (ISO dates only).
    ``assumed`` counts the ambiguous values read by the configured order.
    """

    day_first: bool | None
    explanation: str
    assumed: int = 0

    @property
    def label(self) -> str:
        return {None: "not needed", True: "day/month/year",
                False: "month/day/year"}[self.day_first]


def _fields(text: pd.Series) -> pd.DataFrame:
    """Day/month/year fields of numeric dates (NaN elsewhere). A vectorised prefix test first: the
    regex extraction is slow, and most files hold ISO dates that never need it."""
    candidate = text.str.match(NUMERIC_PREFIX).to_numpy(dtype=bool, na_value=False)
    fields = pd.DataFrame(np.nan, index=text.index, columns=range(4), dtype=object)
    if candidate.any():
        fields.loc[candidate] = text[candidate].str.extract(NUMERIC_DATE).to_numpy(dtype=object)
    return fields


def infer_date_order(columns: Iterable[tuple[np.ndarray, pd.Series]], *, day_first: bool | None,
                     configured: str | None) -> DateOrder:
    """Decide day-first or month-first from every value of the date column.

    ``columns`` yields (row numbers, values) chunk by chunk. ``day_first`` is the
    importer's explicit choice; ``configured`` the service's ``HOTSPOTS_DATE_ORDER``
    (``"day-first"``, ``"month-first"`` or ``None``).

    Raises
    ------
    InvalidUpload
        When the column holds both proven orders (rows of each kind named), or
        only ambiguous values and neither the importer nor the service says which.
    """
    day_rows: list[int] = []
    month_rows: list[int] = []
    n_day = n_month = n_ambiguous = 0
    example = None
    for rows, values in columns:
        fields = _fields(values.astype(str).str.strip())
        present = fields[0].notna().to_numpy()
        if not present.any():
            continue
        first = pd.to_numeric(fields[0], errors="coerce").to_numpy()
        second = pd.to_numeric(fields[1], errors="coerce").to_numpy()
        is_day = present & (first > 12) & (second <= 12)
        is_month = present & (second > 12) & (first <= 12)
        ambiguous = present & (first <= 12) & (second <= 12) & (first != second)
        n_day += int(is_day.sum())
        n_month += int(is_month.sum())
        n_ambiguous += int(ambiguous.sum())
        day_rows.extend(rows[is_day][: EXAMPLES - len(day_rows)].tolist())
        month_rows.extend(rows[is_month][: EXAMPLES - len(month_rows)].tolist())
        if example is None and ambiguous.any():
            example = str(values.iloc[int(np.flatnonzero(ambiguous)[0])]).strip()
    if n_day and n_month and day_first is None:
        raise InvalidUpload(
            f"The date column mixes day-first and month-first dates: {n_day:,} rows can only be day/month "
            f"(for example rows {_rows(day_rows)}) and {n_month:,} only month/day (rows {_rows(month_rows)}). "
            "Correct the file so one order is used, or say which with day_first; nothing was imported.",
            details={"day_first_rows": day_rows, "month_first_rows": month_rows},
        )
    if day_first is not None:
        order = "day/month/year" if day_first else "month/day/year"
        return DateOrder(day_first, f"{order}, as asked")
    if n_day:
        return DateOrder(True, f"day/month/year: {n_day:,} dates have a first field above 12 (rows {_rows(day_rows)})")
    if n_month:
        return DateOrder(False, f"month/day/year: {n_month:,} dates have a second field above 12 "
                                f"(rows {_rows(month_rows)})")
    if not n_ambiguous:
        return DateOrder(None, "no ambiguous day/month dates")
    if configured in ("day-first", "month-first"):
        chosen = configured == "day-first"
        order = "day/month/year" if chosen else "month/day/year"
        return DateOrder(chosen, f"{order} by the service's HOTSPOTS_DATE_ORDER={configured}: every date could be "
                                 f"either ({n_ambiguous:,} ambiguous, such as {example!r})", assumed=n_ambiguous)
    raise InvalidUpload(
        f"Every date in the file could be day/month or month/day (such as {example!r}), "
        f"so the order cannot be told from the data ({n_ambiguous:,} ambiguous dates). Import again saying "
        "which: day_first=true for day/month/year, false for month/day/year (CLI: --day-first or --month-first). "
        "Nothing was imported.",
        details={"ambiguous": n_ambiguous, "example": example},
    )


def _rows(rows: list[int]) -> str:
    return ", ".join(str(r) for r in rows)


def parse_dates(values: pd.Series, *, zone: ZoneInfo, day_first: bool | None = None,
                now: datetime | None = None, notes: Counter[str] | None = None) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of dates to UTC; naive times are read in ``zone``.

    Numeric day/month dates are read strictly in the order ``day_first`` (decided
    beforehand by :func:`infer_date_order`); one that does not fit it is rejected.
    ``notes`` (if given) counts repeated and skipped local hours and Excel serials.

    Returns the parsed series (NaT where rejected) and a reason per row (``None`` if fine).
    """
    notes = notes if notes is not None else Counter()
    text = values.astype(str).str.strip().reset_index(drop=True)
    reasons = np.full(len(text), None, dtype=object)
    blank = (text == "").to_numpy()
    text, serial = _excel_serials_as_iso(text)
    notes["excel_serial"] += int(serial.sum())
    text, numeric = _numeric_as_iso(text, day_first)
    parsed = _parse_uniform(text, zone, notes)
    bad = parsed.isna().to_numpy() & ~blank & ~(numeric & (text == ""))
    if bad.any():
        parsed = parsed.astype(object)
        for i in np.flatnonzero(bad):
            parsed.iat[i] = _parse_one(text.iat[i], zone, notes)
        parsed = pd.to_datetime(parsed, utc=True)
    original = values.astype(str).str.strip().reset_index(drop=True)
    missing = parsed.isna().to_numpy()
    for i in np.flatnonzero(blank):
        reasons[i] = "missing date"
    for i in np.flatnonzero(missing & ~blank):
        reasons[i] = f"date {original.iat[i]!r} is not a recognisable date"
        if numeric[i] and day_first is not None:
            reasons[i] += f" read as {'day/month/year' if day_first else 'month/day/year'}"
        elif numeric[i]:
            reasons[i] = (f"date {original.iat[i]!r} could be day/month or month/day: import again "
                          "saying which (day_first)")
    now = now or datetime.now(UTC)
    future = (parsed > pd.Timestamp(now + FUTURE_TOLERANCE)).to_numpy(dtype=bool)
    for i in np.flatnonzero(future):
        reasons[i] = f"date {original.iat[i]!r} is in the future"
    return parsed, reasons


def _excel_serials_as_iso(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    serial = text.str.fullmatch(EXCEL_SERIAL).to_numpy(dtype=bool).copy()
    if not serial.any():
        return text, serial
    days = pd.to_numeric(text[serial], errors="coerce")
    serial_in_range = (days >= EXCEL_RANGE[0]) & (days <= EXCEL_RANGE[1])
    serial[np.flatnonzero(serial)[~serial_in_range.to_numpy()]] = False
    days = days[serial_in_range]
    # Rounded to the second: Excel's fractions of a day are not exact in binary.
    stamps = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s")
    text = text.copy()
    text[serial] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
    return text, serial


def _numeric_as_iso(text: pd.Series, day_first: bool | None) -> tuple[pd.Series, np.ndarray]:
    """Rewrite dd/mm/yyyy or mm/dd/yyyy (as decided) as ISO, so no value is read by guess."""
    fields = _fields(text)
    numeric = fields[0].notna().to_numpy()
    if not numeric.any():
        return text, numeric
    first, second = fields[0][numeric].astype(int), fields[1][numeric].astype(int)
    if day_first is None:
        # No order decided: read only what a value proves by itself; 03/04 stays unreadable.
        proves_month_first = second > 12
        day, month = first.where(~proves_month_first, second), second.where(~proves_month_first, first)
        month = month.where((first > 12) | (second > 12) | (first == second), 0)
    else:
        day, month = (first, second) if day_first else (second, first)
    year = fields[2][numeric]
    short = year.str.len() == 2
    # POSIX %y: 69-99 are 19xx, 00-68 are 20xx.
    year = year.astype(int).where(~short, year.astype(int).map(lambda y: 1900 + y if y >= 69 else 2000 + y))
    fits = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    iso = (year.astype(str).str.zfill(4) + "-" + month.astype(str).str.zfill(2) + "-"
           + day.astype(str).str.zfill(2) + fields[3][numeric].fillna("").str.rstrip())
    text = text.copy()
    text[numeric] = iso.where(fits, "").to_numpy()
    return text, numeric


def _parse_uniform(text: pd.Series, zone: ZoneInfo, notes: Counter[str]) -> pd.Series:
    """Fast path: one format for the whole column (ISO 8601 or inferred)."""
    for fmt in ("ISO8601", None):
        try:
            parsed = pd.to_datetime(text, errors="coerce", format=fmt)
        except (ValueError, TypeError):
            continue  # mixed naive and zoned values: fall through to per-value parsing
        if parsed.notna().any():
            return _to_utc(parsed, zone, notes)
    return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")


def _to_utc(parsed: pd.Series, zone: ZoneInfo, notes: Counter[str]) -> pd.Series:
    if parsed.dt.tz is not None:
        return parsed.dt.tz_convert("UTC")
    present = parsed.notna()
    repeated = present & parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent=pd.Timedelta(hours=1)).isna()
    skipped = present & parsed.dt.tz_localize(zone, ambiguous=np.ones(len(parsed), dtype=bool),
                                              nonexistent="NaT").isna()
    notes["repeated_hour"] += int(repeated.sum())
    notes["skipped_hour"] += int(skipped.sum())
    # ambiguous=True takes the daylight-saving reading: the first of the two occurrences; a skipped
    # local time moves forward by the usual one-hour gap (02:08 becomes 03:08, as a clock would read it).
    return parsed.dt.tz_localize(zone, ambiguous=np.ones(len(parsed), dtype=bool),
                                 nonexistent=pd.Timedelta(hours=1)).dt.tz_convert("UTC")


def _parse_one(value: str, zone: ZoneInfo, notes: Counter[str]) -> pd.Timestamp | None:
    try:
        stamp = pd.to_datetime(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        return _to_utc(pd.Series([stamp]), zone, notes).iat[0]
    return stamp.tz_convert("UTC")


def date_notes(notes: Counter[str]) -> list[str]:
    """The report's warnings about dates, one sentence per kind seen."""
    return [f"{notes[key]:,} {words}" for key, words in NOTE_WORDS.items() if notes.get(key)]
