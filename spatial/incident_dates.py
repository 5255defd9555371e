"""Dates in incident files: one fast pass for a uniform column, a careful one for the rest.

Naive times are read in the given zone; every result is UTC. A date more than
``FUTURE_TOLERANCE`` ahead of now is rejected (clock skew allowed).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

FUTURE_TOLERANCE = timedelta(minutes=10)


def parse_dates(values: pd.Series, *, zone: ZoneInfo, day_first: bool = False,
                now: datetime | None = None) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of dates to UTC; naive times are read in the configured zone.

    Returns the parsed series (NaT where rejected) and a reason per row (``None`` if fine).
    """
    text = values.astype(str).str.strip()
    reasons = np.full(len(text), None, dtype=object)
    blank = (text == "").to_numpy()
    parsed = _parse_uniform(text, zone, day_first)
    bad = parsed.isna().to_numpy() & ~blank
    if bad.any():
        parsed = parsed.astype(object)
        for i in np.flatnonzero(bad):
            parsed.iat[i] = _parse_one(text.iat[i], zone, day_first)
        parsed = pd.to_datetime(parsed, utc=True)
    parsed = parsed.reset_index(drop=True)
    missing = parsed.isna().to_numpy()
    for i in np.flatnonzero(blank):
        reasons[i] = "missing date"
    for i in np.flatnonzero(missing & ~blank):
        reasons[i] = f"date {text.iat[i]!r} is not a recognisable date"
    now = now or datetime.now(timezone.utc)
    future = (parsed > pd.Timestamp(now + FUTURE_TOLERANCE)).to_numpy(dtype=bool)
    for i in np.flatnonzero(future):
        reasons[i] = f"date {text.iat[i]!r} is in the future"
    return parsed, reasons


def _parse_uniform(text: pd.Series, zone: ZoneInfo, day_first: bool) -> pd.Series:
    """Fast path: one format for the whole column (ISO 8601 or inferred)."""
    for fmt in ("ISO8601", None):
        try:
            parsed = pd.to_datetime(text, errors="coerce", format=fmt, dayfirst=day_first)
        except (ValueError, TypeError):
            continue  # mixed naive and zoned values: fall through to per-value parsing
        if parsed.notna().any():
            return _to_utc(parsed, zone)
    return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")


def _to_utc(parsed: pd.Series, zone: ZoneInfo) -> pd.Series:
    if parsed.dt.tz is None:
        return parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    return parsed.dt.tz_convert("UTC")


def _parse_one(value: str, zone: ZoneInfo, day_first: bool) -> pd.Timestamp | None:
    try:
        stamp = pd.to_datetime(value, dayfirst=day_first)
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
        except Exception:  # pragma: no cover - ambiguity handled by NaT above
            return None
    return stamp.tz_convert("UTC")
