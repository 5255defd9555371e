"""Row checks of an incident file that look past one value: labels that cannot be stored, swapped columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spatial.errors import InvalidUpload

# Ids and categories are indexed and shown in lists: a longer value is a broken row, not a name.
MAX_LABEL_CHARS = 200


def check_labels(frame: pd.DataFrame, columns: list[tuple[str, str | None]], reasons: np.ndarray) -> None:
    """Reject rows whose id or category is far too long or holds a NUL character (no database stores it).

    ``columns``: (what the value is, its column or None); ``reasons`` is filled where still empty.
    """
    for field, column in columns:
        if not column:
            continue
        values = frame[column].astype(str).str.strip()
        lengths = values.str.len().to_numpy()
        has_nul = values.str.contains("\x00", regex=False).to_numpy()
        for i in np.flatnonzero((lengths > MAX_LABEL_CHARS) | has_nul):
            if reasons[i] is None:
                reasons[i] = (f"the {field} contains a NUL character" if has_nul[i] else
                              f"the {field} is too long ({lengths[i]:,} characters; at most {MAX_LABEL_CHARS})")


def refuse_if_swapped(outside: int, inside_if_swapped: int, total: int, area: str) -> None:
    """Refuse a file whose latitude and longitude columns look exchanged.

    When most usable rows fall outside ``area`` but most would fall inside it with the two
    columns swapped, importing would silently put the incidents somewhere else (or nowhere).
    """
    if total and outside * 2 > total and inside_if_swapped * 2 > total:
        raise InvalidUpload(
            f"The latitude and longitude columns look swapped: {outside:,} of {total:,} rows fall outside "
            f"{area}, but with the two columns exchanged {inside_if_swapped:,} fall inside it. Nothing was "
            "imported. Check the file's header, or name the columns explicitly (latitude_column and "
            "longitude_column).",
            {"outside": outside, "rows": total, "inside_if_swapped": inside_if_swapped, "reason": "swapped_columns"},
        )
