"""CSV: a header of the caller's columns, then one line per row, written in ~64 KB pieces.

Every text cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) gets a leading single quote, as OWASP advises against CSV
injection: a community or file named ``=HYPERLINK(...)`` shows as text, never runs. Numbers are
written as they are (a negative z-score stays a number); only strings are touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from app.formats.base import About, Feature

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64_000


def spreadsheet_safe(value: Any) -> Any:
    """A cell as written: empty for None, text that could start a formula quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvFormat:
    """Comma-separated values, spreadsheet-safe; no geometry (cells carry their centre as columns)."""

    name = "csv"
    media_type = "text/csv"
    extension = "csv"
    uses_geometry = False

    def write(self, features: Iterable[Feature], columns: Sequence[str],
              members: Mapping[str, Any] | None = None, about: About | None = None) -> Iterator[bytes]:
        """The header and the rows' ``columns`` (a missing property is an empty cell)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for feature in features:
            writer.writerow([spreadsheet_safe(feature.properties.get(c)) for c in columns])
            if buffer.tell() > CHUNK_CHARS:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
