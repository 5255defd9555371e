"""Streaming CSV for exports: rows are written in ~64 KB pieces, never held whole.

Every text cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) gets a leading single quote, as OWASP advises against CSV
injection: a community or file named ``=HYPERLINK(...)`` shows as text, never runs. Numbers are
written as they are (a negative z-score stays a number); only strings are touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi.responses import StreamingResponse


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> StreamingResponse:
    return StreamingResponse(_lines(rows, columns), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A cell as written: empty for None, text that could start a formula quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _lines(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(c)) for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
