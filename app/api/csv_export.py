"""Streaming CSV for exports: rows are written in ~64 KB pieces, never held whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi.responses import StreamingResponse


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> StreamingResponse:
    return StreamingResponse(_lines(rows, columns), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _lines(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
