"""Which column of an incident file holds each field: chosen by name, checked by content, explained.

A name alone misleads: Houston's ``type`` is the street suffix ("dr", "st"),
and a file with both ``date`` (a bare date) and ``time`` (a full timestamp)
must use ``time``. Each candidate named like a field is therefore checked on
a sample of the file's rows, and the report says why each column was chosen
and why the others were not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from spatial.errors import InvalidUpload

# Common names for each field, in order of preference (matched case-insensitively).
COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "latitude": ("latitude", "lat", "y"),
    "longitude": ("longitude", "lon", "lng", "long", "x"),
    "occurred_at": ("occurred_at", "date", "datetime", "date_time", "occurred", "incident_date", "time"),
    "category": ("category", "primary_type", "offense", "offence", "crime_type", "offense_type", "incident_type",
                 "type"),
    "external_id": ("id", "case_number", "incidntnum", "incident_id", "incident_number", "case_id"),
    "description": ("description", "descript", "details"),
    "reported_at": ("reported_at", "report_date", "reported"),
}
# A separate time-of-day column that completes a bare date.
TIME_OF_DAY_NAMES = ("time", "time_of_day", "occurred_time", "incident_time", "hour")
REQUIRED = ("latitude", "longitude", "occurred_at")
FIELD_LABELS = {"latitude": "latitude", "longitude": "longitude", "occurred_at": "date"}
COORDINATE_RANGE = {"latitude": 90.0, "longitude": 180.0}

# Street-type abbreviations and words (USPS and Caribbean usage): a column of these is an address part.
STREET_SUFFIXES = frozenset(
    "st street ave av avenue rd road dr drive ln lane blvd boulevard ct court pl place way hwy highway pkwy "
    "parkway cir circle ter terrace trl trail sq square aly alley fwy freeway expy row loop run pass walk "
    "cres crescent gdns gardens hts heights mews close".split()
)
DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|^\d{5}(?:\.\d+)?$"
                       r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]{3,9},? \d{4}")
TIME_LIKE = re.compile(r"\d{1,2}:\d{2}|^\d{5}\.\d+$")
ADDRESS_LIKE = re.compile(r"^\d+[A-Za-z]?\s+\S+")
# A category column has few distinct values: at most this many, and at most this share of the sample.
MAX_CATEGORIES = 300
MAX_DISTINCT_SHARE = 0.5
# Share of a sample that must look right for a column named like a field to be used for it.
MOSTLY = 0.5


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file holds each incident field (``None``: absent).

    ``occurred_time`` is a separate time-of-day column combined with a date-only ``occurred_at``.
    """

    latitude: str | None
    longitude: str | None
    occurred_at: str
    category: str | None = None
    external_id: str | None = None
    description: str | None = None
    reported_at: str | None = None
    occurred_time: str | None = None

    def mapped(self) -> set[str]:
        return {c for c in vars(self).values() if c}


@dataclass
class ColumnChoice:
    """The mapping, why each column was chosen, and the candidates passed over (with why)."""

    mapping: ColumnMapping
    reasons: dict[str, str] = field(default_factory=dict)
    alternatives: dict[str, list[str]] = field(default_factory=dict)


def choose_columns(columns: list[str], sample: pd.DataFrame | None = None,
                   overrides: dict[str, str] | None = None, *, decimal_comma: bool = False) -> ColumnChoice:
    """Match the file's columns to incident fields, by name and by the content of ``sample``.

    ``sample`` holds the first rows as text (``None``: judge by name only).

    Raises
    ------
    InvalidUpload
        When a chosen column does not exist or a required field is not found;
        the message lists the columns the file has and the candidates passed over.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    unknown_fields = set(overrides) - set(COLUMN_CANDIDATES) - {"occurred_time"}
    if unknown_fields:
        raise InvalidUpload(f"Unknown field(s) to map: {', '.join(sorted(unknown_fields))}.")
    by_lower = {c.lower().strip(): c for c in columns}
    choice = ColumnChoice(mapping=None)  # type: ignore[arg-type]
    chosen: dict[str, str | None] = {}
    for name, candidates in COLUMN_CANDIDATES.items():
        if name in overrides:
            chosen[name] = _override(overrides[name], name, columns)
            choice.reasons[name] = f"{chosen[name]!r}: chosen by you"
            continue
        named = [by_lower[c] for c in candidates if c in by_lower]
        chosen[name] = _best(name, named, sample, choice, decimal_comma)
    chosen["occurred_time"] = None
    if "occurred_time" in overrides:
        chosen["occurred_time"] = _override(overrides["occurred_time"], "occurred_time", columns)
        choice.reasons["occurred_time"] = f"{chosen['occurred_time']!r}: chosen by you"
    elif chosen["occurred_at"] and "occurred_at" not in overrides and sample is not None:
        chosen["occurred_time"] = _time_of_day_column(chosen["occurred_at"], by_lower, sample, choice)
    missing = [n for n in REQUIRED if not chosen[n]]
    if missing:
        labels = " and ".join(FIELD_LABELS[m] for m in missing)
        passed_over = "; ".join(a for m in missing for a in choice.alternatives.get(m, []))
        raise InvalidUpload(
            f"Could not find the {labels} column in the file. Name the column(s) explicitly "
            f"(for example --{missing[0].replace('_', '-')}-column). The file's columns are: {', '.join(columns)}."
            + (f" Passed over: {passed_over}." if passed_over else ""),
            details={"columns": columns, "missing": missing},
        )
    choice.mapping = ColumnMapping(**chosen)  # type: ignore[arg-type]  # every required field was found above
    return choice


def _override(column: str, name: str, columns: list[str]) -> str:
    if column not in columns:
        raise InvalidUpload(
            f"The column {column!r} chosen for {name} is not in the file. "
            f"The file's columns are: {', '.join(columns)}.",
            details={"columns": columns},
        )
    return column


def _values(sample: pd.DataFrame, column: str) -> pd.Series:
    if column not in sample.columns:
        return pd.Series([], dtype=str)
    values = sample[column].astype(str).str.strip()
    return values[values != ""]


def _best(name: str, named: list[str], sample: pd.DataFrame | None, choice: ColumnChoice,
          decimal_comma: bool) -> str | None:
    """The first candidate whose content fits the field; the others go to ``alternatives`` with why."""
    if name == "occurred_at" and sample is not None:
        return _best_date(named, sample, choice)
    best = None
    for column in named:
        values = _values(sample, column) if sample is not None else None
        if values is None or values.empty or name not in ("latitude", "longitude", "category"):
            verdict = (True, "its name")
        elif name == "category":
            verdict = _judge_category(values)
        else:
            verdict = _judge_coordinate(values, COORDINATE_RANGE[name], decimal_comma)
        fits, why = verdict
        if best is None and fits:
            best = column
            choice.reasons[name] = f"{column!r}: {why}"
        else:
            choice.alternatives.setdefault(name, []).append(
                f"{column!r} ({why})" if not fits else f"{column!r} (also fits; {best!r} is preferred by name)")
    return best


def _judge_coordinate(values: pd.Series, limit: float, decimal_comma: bool) -> tuple[bool, str]:
    if decimal_comma:
        values = values.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(values, errors="coerce")
    numeric = numbers.notna().mean()
    in_range = (numbers.abs() <= limit).mean()
    if numeric < MOSTLY:
        return False, f"only {numeric:.0%} of sampled values are numbers"
    if in_range < MOSTLY:
        return False, f"only {in_range:.0%} of sampled values are between -{limit:g} and {limit:g} degrees"
    return True, f"its name, and {in_range:.0%} of sampled values are degrees in range"


def _judge_category(values: pd.Series) -> tuple[bool, str]:
    distinct = values.str.lower().nunique()
    lowered = values.str.lower().str.rstrip(".")
    suffix_share = lowered.isin(STREET_SUFFIXES).mean()
    if suffix_share >= MOSTLY:
        top = ", ".join(lowered[lowered.isin(STREET_SUFFIXES)].value_counts().index[:3])
        return False, f"looks like street types ({top}: {suffix_share:.0%} of sampled values)"
    address_share = values.str.match(ADDRESS_LIKE).mean()
    if address_share >= MOSTLY:
        return False, f"looks like addresses ({address_share:.0%} of sampled values start with a house number)"
    letters = values.str.count(r"[A-Za-z]") / values.str.len().clip(lower=1)
    mostly_letters = (letters >= 0.5).mean()
    if mostly_letters < MOSTLY:
        return False, f"only {mostly_letters:.0%} of sampled values are words"
    if distinct > MAX_CATEGORIES or (len(values) >= 20 and distinct / len(values) > MAX_DISTINCT_SHARE):
        return False, f"too many different values to be categories ({distinct:,} in {len(values):,} sampled rows)"
    return True, f"its name, and it looks like categories ({distinct:,} distinct values, words)"


def _date_kind(values: pd.Series) -> str:
    """'timestamp', 'date', 'time-of-day' or 'other', by what most sampled values look like."""
    if values.empty:
        return "other"
    dates = values.str.contains(DATE_LIKE)
    times = values.str.contains(TIME_LIKE)
    if (dates & times).mean() >= MOSTLY:
        return "timestamp"
    if dates.mean() >= MOSTLY:
        return "date"
    if times.mean() >= MOSTLY:
        return "time-of-day"
    return "other"


KIND_WORDS = {"timestamp": "dates with a time of day", "date": "dates without a time of day",
              "time-of-day": "times of day without a date", "other": "not dates"}


def _best_date(named: list[str], sample: pd.DataFrame, choice: ColumnChoice) -> str | None:
    """A full timestamp beats a bare date; a bare date beats nothing; anything else is passed over."""
    kinds = {c: _date_kind(_values(sample, c)) if not _values(sample, c).empty else "date" for c in named}
    for wanted in ("timestamp", "date"):
        for column in named:
            if kinds[column] == wanted:
                choice.reasons["occurred_at"] = f"{column!r}: its name, and its values are {KIND_WORDS[wanted]}"
                others = [c for c in named if c != column]
                choice.alternatives["occurred_at"] = [f"{c!r} ({KIND_WORDS[kinds[c]]})" for c in others]
                return column
    choice.alternatives["occurred_at"] = [f"{c!r} ({KIND_WORDS[kinds[c]]})" for c in named]
    return None


def _time_of_day_column(date_column: str, by_lower: dict[str, str], sample: pd.DataFrame,
                        choice: ColumnChoice) -> str | None:
    """A time-of-day column to combine with a date-only column, if the file has one."""
    if _date_kind(_values(sample, date_column)) != "date":
        return None
    for name in TIME_OF_DAY_NAMES:
        column = by_lower.get(name)
        if column and column != date_column and _date_kind(_values(sample, column)) == "time-of-day":
            choice.reasons["occurred_time"] = (f"{column!r}: times of day, combined with the dates of "
                                               f"{date_column!r}")
            return column
    return None
