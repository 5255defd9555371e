"""How a CSV file is written: its encoding and delimiter, worked out from its first megabyte."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spatial.errors import InvalidUpload


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written: its text encoding and delimiter."""

    encoding: str
    delimiter: str


DELIMITERS = (",", ";", "\t", "|")


def sniff_csv(path: Path) -> CsvFormat:
    """Work out the encoding (UTF-8, UTF-8 with BOM, UTF-16, else Windows-1252) and delimiter.

    Spreadsheets in the Caribbean and Europe often save with ';' or as UTF-16
    "Unicode text"; clerks should not have to know.
    """
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    if not head.strip():
        raise InvalidUpload("The CSV file is empty: it has no header row.")
    if head.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise InvalidUpload("The file is not a text CSV file (it contains binary data). Save it as CSV and try again.")
    else:
        try:
            head[:-4].decode("utf-8")  # a multi-byte character may be cut at the end of the sample
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = head.decode(encoding, errors="replace")
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    delimiter = max(counts, key=lambda d: counts[d]) if max(counts.values()) > 0 else ","
    return CsvFormat(encoding=encoding, delimiter=delimiter)
