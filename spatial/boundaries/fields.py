"""Finding the name, code and population fields of a boundary file, and reading them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from spatial.errors import InvalidUpload

# Looked up case-insensitively, in this order; the first field that has at
# least one non-blank value wins.
NAME_CANDIDATES = (
    "name", "shapename", "community", "community_name", "commname", "parish", "parish_name",
    "neighbourhood", "neighborhood", "nbhd_name", "nhood", "district_name", "ward_name",
    "area_name", "beat_name", "label", "nom", "nombre", "name_en", "name_1",
)
CODE_CANDIDATES = (
    "code", "shapeiso", "area_num_1", "area_numbe", "community_code", "commcode",
    "parish_code", "nbhd_code", "geoid", "geo_id", "iso", "iso_code", "shapeid", "ward",
    # Last: often an internal number (a KML placemark id, an OBJECTID-like key).
    "id",
)
POPULATION_CANDIDATES = (
    "population", "pop", "tot_pop", "total_pop", "pop_total", "totpop", "pop2020",
    "pop_2020", "population_2020",
)


def choose_field(
    frame: pd.DataFrame,
    available: Sequence[str],
    override: str | None,
    candidates: Sequence[str],
    purpose: str,
    *,
    numeric: bool = False,
) -> str | None:
    """Return the field to use for ``purpose`` ("name", "code", "population").

    An explicit ``override`` must exist (matched exactly, else
    case-insensitively); otherwise the candidates are tried in order.
    """
    if override is not None:
        return _find_override(available, override, purpose)
    by_lower = {field.lower(): field for field in available}
    for candidate in candidates:
        field = by_lower.get(candidate)
        if field is None or not _has_values(frame[field]):
            continue
        if numeric and not pd.api.types.is_numeric_dtype(frame[field]):
            continue
        return field
    return None


def _find_override(available: Sequence[str], override: str, purpose: str) -> str:
    if override in available:
        return override
    matches = [field for field in available if field.lower() == override.lower()]
    if len(matches) == 1:
        return matches[0]
    raise InvalidUpload(
        f"The {purpose} field '{override}' is not in the file. "
        f"The fields in the file are: {', '.join(available) or '(none)'}.",
        {"field": override, "purpose": purpose, "available_fields": list(available)},
    )


def _has_values(column: pd.Series) -> bool:
    return any(text_value(value) is not None for value in column)


def text_value(value: object) -> str | None:
    """A cell as clean text: integral numbers without ``.0``, blanks as None."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).strip()
    return text or None


def population_values(frame: pd.DataFrame, field: str | None) -> tuple[list[float | None], list[int]]:
    """Population per row (ints where integral) and the 0-based rows that were not numbers.

    Refuses a field that holds no numbers at all.
    """
    if field is None:
        return [None] * len(frame), []
    raw = frame[field]
    numbers = pd.to_numeric(raw, errors="coerce")
    unreadable = [i for i, (value, number) in enumerate(zip(raw, numbers)) if pd.isna(number) and text_value(value)]
    if numbers.notna().sum() == 0 and len(frame):
        raise InvalidUpload(
            f"The population field '{field}' holds no numbers. Choose a numeric field or none.",
            {"field": field, "purpose": "population"},
        )
    values: list[float | None] = []
    for number in numbers:
        if pd.isna(number):
            values.append(None)
        elif float(number).is_integer():
            values.append(int(number))
        else:
            values.append(float(number))
    return values, unreadable
