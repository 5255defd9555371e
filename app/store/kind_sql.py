"""SQL fragments generated from an analysis kind's declaration (spatial/kinds).

Every identifier here comes from a kind's declared fields and tables, which
``spatial.kinds.base`` checks are plain identifiers when the kind is made; a
request only picks a kind by name from the registry. Comparisons come from
the declared ``CellCondition`` (an allow-listed operator and an integer).
"""

from __future__ import annotations

from spatial.kinds import KINDS, AnalysisKind
from spatial.kinds.base import CellCondition

# The columns every kind's cell table has, before the kind's own.
COMMON_CELL_COLUMNS = ("run_id", "cell", "community_id", "incidents")


def cell_columns(kind: AnalysisKind) -> tuple[str, ...]:
    """The cell table's columns a run's cells are written to, in order (the hexagon last)."""
    return (*COMMON_CELL_COLUMNS, *(f.name for f in kind.fields), "geom")


def cell_select(kind: AnalysisKind, published: bool) -> tuple[str, str]:
    """The select list and the table a cell listing reads (police: every stored field; below analyst:
    the published view, whose counts under k are already NULL, classes only)."""
    fields = kind.published_fields if published else tuple(f.name for f in kind.fields)
    select = "SELECT h.cell, h.community_id, c.name AS community, h.incidents, " + ", ".join(f"h.{f}" for f in fields)
    return select, kind.published_cell_table if published else kind.cell_table


def condition(rule: CellCondition, alias: str = "h") -> str:
    """``alias.field op value`` (declared, never from a request)."""
    return f"{alias}.{rule.field} {rule.op} {int(rule.value)}"


def ranking_sums(kind: AnalysisKind) -> str:
    """Per community: cells counted by each of the kind's ranking conditions, and incidents in hot cells."""
    if kind.ranking is None:
        raise ValueError(f"Runs of kind {kind.name!r} have no neighbourhood ranking.")
    counts = "".join(f"sum(CASE WHEN {condition(rule)} THEN 1 ELSE 0 END) AS {name}, "
                     for name, rule in kind.ranking.counts)
    return (counts + f"sum(CASE WHEN {condition(kind.ranking.hot)} THEN 1 ELSE 0 END) AS cells_hot, "
            "sum(CASE WHEN h.incidents IS NULL THEN 1 ELSE 0 END) AS cells_hidden, "
            f"coalesce(sum(CASE WHEN {condition(kind.ranking.hot)} THEN h.incidents END), 0) "
            "AS incidents_in_hot_cells ")


def tile_cell_columns(kind: AnalysisKind, published: bool, *, masked: bool) -> str:
    """A run-resolution feature's kind-specific properties: classes as stored; statistics NULL below
    analyst (``published``), or for police hidden under ``:min_count`` when ``masked``."""
    columns = []
    for name in kind.tile_fields:
        if name in kind.published_fields:
            columns.append(f"h.{name}")
        elif published:
            columns.append(f"NULL AS {name}")
        elif masked:
            columns.append(f"CASE WHEN h.incidents >= :min_count THEN h.{name} END AS {name}")
        else:
            columns.append(f"h.{name}")
    return ", ".join(columns)


def parent_columns(kind: AnalysisKind) -> tuple[str, ...]:
    """The parent table's columns the kind fills, in declared order."""
    return tuple(name for name, _ in kind.parent_fields)


def every_kinds_cells(columns: str) -> str:
    """A subquery of ``columns`` over every kind's cell table (a run's cells are in its kind's table
    only), for what reads a run's cells without needing its kind: its resolution, extent, counts."""
    return "(" + " UNION ALL ".join(f"SELECT {columns} FROM {kind.cell_table}" for kind in KINDS.values()) + ")"
