"""Reading a CSV of figures per community: populations or indicators, keyed by community code or name.

A file has one column naming the community (by its code or its name, detected
over the whole file, case-insensitively) and one or more numeric columns. Every
bad row is reported with its row number (the header is row 1) and a reason, and
a file with any bad row is refused whole: a table of populations with a hole
in it would quietly make some rates wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from spatial.boundaries.fields import POPULATION_CANDIDATES
from spatial.csv_format import sniff_csv
from spatial.errors import InvalidUpload

KINDS = ("population", "indicator")
# Reported rows in a refusal: enough to fix a file, not a copy of it.
REPORT_ROW_LIMIT = 200
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass(frozen=True)
class CommunityKey:
    """A community a row may name: its id, name and code."""

    id: int
    name: str
    code: str | None


@dataclass
class FigureTable:
    """The figures of a file, by column, as community id -> value."""

    key: str  # 'code' or 'name'
    key_column: str
    figures: dict[str, dict[int, float]]
    rows: int
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_number(text: str, *, decimal_comma: bool = False) -> float | None:
    """A number as a spreadsheet writes it ('21325', '21,325', '4.5', '12 %'; with ``decimal_comma``, as
    spreadsheets that save with ';' do, '12,5' and '1.234,5'); None if it is not one."""
    value = text.strip().rstrip("%").strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma and "," in value:
        value = value.replace(".", "").replace(",", ".")
    elif _THOUSANDS.match(value):
        value = value.replace(",", "")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


def _read(path: Path) -> tuple[pd.DataFrame, bool]:
    """The file's rows as text, and whether its numbers use a decimal comma (a ';'-separated file)."""
    fmt = sniff_csv(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=fmt.encoding, sep=fmt.delimiter)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidUpload(f"The file could not be read as CSV: {str(exc).splitlines()[0]}") from exc
    if frame.empty:
        raise InvalidUpload("The CSV file has a header but no rows of figures.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, fmt.delimiter == ";"


def _key_column(frame: pd.DataFrame, communities: Sequence[CommunityKey]) -> tuple[str, str]:
    """The column naming the communities, and whether it holds codes or names (whole file, any case)."""
    codes = {_fold(c.code): c.id for c in communities if c.code}
    names = {_fold(c.name): c.id for c in communities}
    scores: list[tuple[int, bool, str, str]] = []
    for column in frame.columns:
        values = [_fold(v) for v in frame[column] if v.strip()]
        by_code = {v for v in values if v in codes}
        by_name = {v for v in values if v in names}
        if (by_code - by_name) and (by_name - by_code):
            raise InvalidUpload(
                f"The column '{column}' holds community codes in some rows and names in others, so which "
                "community a row means is ambiguous. Use codes throughout, or names throughout.",
                {"column": column, "codes": sorted(by_code - by_name)[:5], "names": sorted(by_name - by_code)[:5]})
        code_rows, name_rows = sum(v in codes for v in values), sum(v in names for v in values)
        if code_rows and code_rows == name_rows and any(codes[v] != names[v] for v in by_code):
            raise InvalidUpload(
                f"The values of column '{column}' are the codes of some communities and the names of others, "
                "so which community a row means is ambiguous. Key the file by the other one.",
                {"column": column})
        scores += [(code_rows, True, "code", column), (name_rows, False, "name", column)]
    best = max(scores, default=(0, True, "", ""))
    if best[0] == 0:
        raise InvalidUpload(
            "No column of the file holds the codes or names of the communities of the boundary set. "
            "Add a column with each community's code or name, spelled as in the boundary file.",
            {"columns": list(frame.columns), "example_names": sorted(c.name for c in communities)[:5]})
    rival = next((s for s in scores if s[0] == best[0] and s[2] == best[2] and s[3] != best[3]), None)
    if rival is not None:
        both = sorted((best[3], rival[3]))
        raise InvalidUpload(f"Both '{both[0]}' and '{both[1]}' hold community {best[2]}s; keep one of them.",
                            {"columns": both})
    # Codes and names in two columns matching as many rows: codes are the steadier key.
    return best[3], best[2]


def _figure_columns(frame: pd.DataFrame, key_column: str, kind: str, wanted: Sequence[str] | None,
                    decimal_comma: bool) -> tuple[list[str], list[str]]:
    """The columns of figures (numeric in most rows) and the columns left out."""
    numeric: list[str] = []
    other: list[str] = []
    for column in frame.columns:
        if column == key_column:
            continue
        values = [v for v in frame[column] if v.strip()]
        parsed = sum(parse_number(v, decimal_comma=decimal_comma) is not None for v in values)
        (numeric if values and parsed * 2 >= len(values) else other).append(column)
    if wanted:
        missing = [w for w in wanted if w not in frame.columns]
        if missing:
            raise InvalidUpload(f"The file has no column {', '.join(repr(m) for m in missing)}.",
                                {"columns": list(frame.columns)})
        return list(wanted), [c for c in frame.columns if c not in wanted and c != key_column]
    if kind == "population" and len(numeric) > 1:
        named = [c for c in numeric if c.casefold() in POPULATION_CANDIDATES]
        if len(named) != 1:
            raise InvalidUpload(
                f"The file has {len(numeric)} numeric columns ({', '.join(numeric)}); say which one is the "
                "population (columns), or upload a file with the population column only.",
                {"numeric_columns": numeric})
        other += [c for c in numeric if c != named[0]]
        numeric = named
    if not numeric:
        raise InvalidUpload("The file has no numeric column of figures besides the community column.",
                            {"columns": list(frame.columns), "community_column": key_column})
    return numeric, other


def read_figure_table(path: Path, communities: Sequence[CommunityKey], *, kind: str,
                      columns: Sequence[str] | None = None) -> FigureTable:
    """Read and check a CSV of figures per community; refuse it whole, row by row, if any row is bad.

    Parameters
    ----------
    path : Path
        The CSV file (encoding and delimiter are detected).
    communities : sequence of CommunityKey
        The communities of the boundary set the figures are for.
    kind : {'population', 'indicator'}
        A population must be one column of non-negative numbers.
    columns : sequence of str, optional
        The figure columns to take (default: every numeric column; for a
        population, the one numeric column or the one named like a population).

    Returns
    -------
    FigureTable
    """
    if kind not in KINDS:
        raise InvalidUpload(f"The kind of figure must be 'population' or 'indicator', not '{kind}'.")
    frame, decimal_comma = _read(path)
    key_column, key = _key_column(frame, communities)
    figure_columns, ignored = _figure_columns(frame, key_column, kind, columns, decimal_comma)
    if kind == "population" and len(figure_columns) != 1:
        raise InvalidUpload("A population upload takes one column; upload indicators as kind 'indicator'.",
                            {"columns": figure_columns})
    lookup = {_fold(label): c for c in communities if (label := c.code if key == "code" else c.name)}
    problems: list[dict[str, object]] = []
    seen: dict[int, int] = {}
    empty: dict[str, list[int]] = {c: [] for c in figure_columns}
    figures: dict[str, dict[int, float]] = {c: {} for c in figure_columns}
    for index, row in enumerate(frame.itertuples(index=False), start=2):
        record = dict(zip(frame.columns, row))
        named = record[key_column].strip()
        community = lookup.get(_fold(named))
        if community is None:
            problems.append({"row": index, "reason": f"no community with the {key} '{named}' in the boundary set"
                             if named else f"the community {key} is empty"})
            continue
        if community.id in seen:
            problems.append({"row": index, "reason": f"{community.name} is given twice (first on row {seen[community.id]})"})
            continue
        seen[community.id] = index
        for column in figure_columns:
            text = record[column]
            if not text.strip():
                empty[column].append(index)
                continue
            value = parse_number(text, decimal_comma=decimal_comma)
            if value is None:
                problems.append({"row": index, "reason": f"'{text.strip()}' in column '{column}' is not a number"})
            elif kind == "population" and value < 0:
                problems.append({"row": index, "reason": f"the population of {community.name} is negative ({text.strip()})"})
            else:
                figures[column][community.id] = value
    if problems:
        raise InvalidUpload(
            f"{len(problems):,} row(s) of the file cannot be used, so nothing was stored. Fix them and upload the "
            f"file again (row 1 is the header); the first is row {problems[0]['row']}: {problems[0]['reason']}.",
            {"rejected": len(problems), "rejected_rows": problems[:REPORT_ROW_LIMIT],
             "community_column": key_column, "keyed_by": key})
    warnings = [f"Column '{c}' is empty on row(s) {', '.join(map(str, rows[:20]))}{' …' if len(rows) > 20 else ''}: "
                "those communities have no value." for c, rows in empty.items() if rows]
    missing = len(communities) - len(seen)
    if missing:
        warnings.append(f"{missing} of the boundary set's {len(communities)} communities are not in the file "
                        "and have no value.")
    return FigureTable(key=key, key_column=key_column, figures=figures, rows=len(frame),
                       ignored_columns=ignored, warnings=warnings)
