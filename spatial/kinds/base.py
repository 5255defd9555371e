"""What an analysis kind declares: its per-cell fields, classes and legend, tiles, CSV and parents.

A kind is a plain declaration (no database, no web framework): the store
generates its SQL from the identifiers declared here (checked when the kind
is made, never taken from a request), the tile service and the map read its
fields, classes and colours, and its parents are aggregated by its own pure
function. Adding a kind means a new module beside ``hotspot.py`` and its
statistics in ``spatial/``, not edits across the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*\Z")
_COLOUR = re.compile(r"#[0-9a-f]{6}\Z")

# The colour sets a map can be drawn in: the kind's usual colours, and colours chosen to stay apart for
# readers with red-green or blue-yellow colour blindness (the "Colour-blind-safe colours" option).
Palette = Literal["default", "safe"]
PALETTES: tuple[Palette, ...] = ("default", "safe")

ColumnType = Literal["smallint", "integer", "bigint", "float", "text"]
Comparison = Literal["=", "<", "<=", ">", ">="]


def identifier(name: str) -> str:
    """``name`` if it is a plain lower-case SQL identifier (what a kind may declare); else ValueError."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain identifier a kind may declare")
    return name


class CellColumns(Protocol):
    """A run's cells as a kind stores them: the common columns, and each declared field by name."""

    @property
    def cells(self) -> np.ndarray: ...
    @property
    def community(self) -> np.ndarray: ...
    @property
    def incidents(self) -> np.ndarray: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class CellField:
    """A per-cell value a kind stores. ``published``: a class, shown below analyst (never a statistic
    computed from exact counts, from which a suppressed count could be solved)."""

    name: str
    type: ColumnType
    published: bool = False

    def __post_init__(self) -> None:
        identifier(self.name)


def palette_named(name: str | None) -> Palette:
    """The palette called ``name`` (None: the usual colours); ValueError, in words, for any other name."""
    if name is None or name == "default":
        return "default"
    if name == "safe":
        return "safe"
    raise ValueError(f"There are no colours called {name!r}: use colours=safe for colour-blind-safe colours, "
                     "or leave it out for the usual ones.")


@dataclass(frozen=True)
class CellClass:
    """One class of a classed field, as planners read it on the map: its colour, and its colour in the
    colour-blind-safe palette (``safe_colour``; None: the class keeps its colour there)."""

    value: int | str
    label: str
    colour: str
    safe_colour: str | None = None

    def __post_init__(self) -> None:
        for colour in (self.colour, *(() if self.safe_colour is None else (self.safe_colour,))):
            if not _COLOUR.match(colour):  # written into style attributes and scripts as it is
                raise ValueError(f"{colour!r} is not a colour a kind may declare (#rrggbb, lower case)")

    def colour_in(self, palette: Palette) -> str:
        """The class's colour in ``palette``."""
        return self.safe_colour if palette == "safe" and self.safe_colour is not None else self.colour


@dataclass(frozen=True)
class ClassScheme:
    """A classed field drawn as one map layer, with its legend."""

    field: str
    layer: str  # the map's layer name
    legend_title: str
    tooltip_label: str  # the row heading in a cell's tooltip
    classes: tuple[CellClass, ...]

    def colours(self, palette: Palette = "default") -> dict[str, str]:
        """Each class's colour in ``palette``, by its value as text."""
        return {str(c.value): c.colour_in(palette) for c in self.classes}

    def palettes(self) -> dict[str, dict[str, str]]:
        """Each palette's colours (what a page that switches between them needs)."""
        return {palette: self.colours(palette) for palette in PALETTES}

    def labels(self) -> dict[str, str]:
        return {str(c.value): c.label for c in self.classes}


@dataclass(frozen=True)
class CellCondition:
    """``field op value`` on a classed integer field (a ranking's count or a hot cell)."""

    field: str
    op: Comparison
    value: int

    def __post_init__(self) -> None:
        identifier(self.field)
        if self.op not in ("=", "<", "<=", ">", ">="):
            raise ValueError(f"{self.op!r} is not a comparison a kind may declare")


@dataclass(frozen=True)
class Ranking:
    """How communities are ranked for targeting from a run's cells: cells counted per condition
    (``counts``, by output name), incidents summed in ``hot`` cells, and each community's top
    cells: those meeting ``candidate``, strongest ``strength`` first (police) or highest class first."""

    counts: tuple[tuple[str, CellCondition], ...]
    hot: CellCondition
    candidate: CellCondition
    strength: str  # a statistic: police order by it and see it
    # How a community's counts are shown: an output key and the count it shows, or a group of them
    # ({"99%": "hot_99", …}) under one key.
    shown: tuple[tuple[str, str | tuple[tuple[str, str], ...]], ...] = ()

    def __post_init__(self) -> None:
        for name in (self.strength, *(n for n, _ in self.counts)):
            identifier(name)  # output names and the order column go into SQL as written
        counted = {n for n, _ in self.counts}
        for key, what in self.shown:
            names = {what} if isinstance(what, str) else {n for _, n in what}
            if names - counted:
                raise ValueError(f"the ranking shows {key!r} from counts it does not make: {sorted(names - counted)}")

    def show(self, row: Mapping[str, int]) -> dict[str, object]:
        """A community's counts as the ranking shows them (``shown``)."""
        return {key: row[what] if isinstance(what, str) else {label: row[n] for label, n in what}
                for key, what in self.shown}



@dataclass(frozen=True, eq=False)  # one object per kind: compared and hashed by identity
class AnalysisKind:
    """One kind of run: what it stores per cell and how every output shows it."""

    name: str
    title: str  # in TileJSON descriptions: "<title> of run N"
    cell_table: str
    published_cell_table: str  # the view below-analyst readers get (database-enforced)
    parent_table: str
    published_parent_table: str
    fields: tuple[CellField, ...]  # stored per cell, in column order
    class_field: str  # what listings filter on and parents keep the strongest of
    schemes: tuple[ClassScheme, ...]  # the map's layers and legend, first shown by default
    legend_note: str
    csv_columns: tuple[str, ...]  # police
    published_csv_columns: tuple[str, ...]  # below analyst
    tile_fields: tuple[str, ...]  # a run-resolution feature's kind-specific properties (police)
    tile_descriptions: dict[str, str]  # TileJSON wording for the kind's own properties
    # Police-only map properties: (field, decimals, tooltip heading).
    map_statistics: tuple[tuple[str, int, str], ...]
    parent_fields: tuple[tuple[str, ColumnType], ...]  # columns of the parent table the kind fills
    # ({class field and each parent input: its value per cell}, parent index per cell, parents)
    # -> the kind's parent columns
    aggregate_parents: Callable[[Mapping[str, np.ndarray], np.ndarray, int], dict[str, np.ndarray]] = field(repr=False)
    ranking: Ranking | None = None
    parent_inputs: tuple[str, ...] = ()  # stored fields the parents are made from, besides the class field
    # The map draws a scheme per time step from a field holding one class per step ("v1,v2,…").
    stepped_field: str | None = None
    heading: str = "Hotspot run"  # the map's title: "<heading> <run id>"
    p_value_fields: tuple[str, ...] = ()  # map statistics that are p-values (shown as "< 0.001" when tiny)
    # map statistics only some runs have (a rate run's smoothed rate): the tooltip leaves out an empty one
    optional_statistics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (self.cell_table, self.published_cell_table, self.parent_table, self.published_parent_table,
                     self.class_field, *self.csv_columns, *self.published_csv_columns, *self.tile_fields,
                     *(n for n, _, _ in self.map_statistics), *(n for n, _ in self.parent_fields),
                     *(s.field for s in self.schemes), *self.parent_inputs,
                     *(() if self.stepped_field is None else (self.stepped_field,))):
            identifier(name)
        stored = {f.name for f in self.fields}
        ranked = (() if self.ranking is None else
                  (self.ranking.strength, self.ranking.hot.field, self.ranking.candidate.field,
                   *(c.field for _, c in self.ranking.counts)))
        unknown = ({self.class_field, *self.tile_fields, *(n for n, _, _ in self.map_statistics),
                    *(s.field for s in self.schemes), *ranked, *self.parent_inputs,
                    *(() if self.stepped_field is None else (self.stepped_field,))} - stored)
        if unknown:
            raise ValueError(f"kind {self.name!r} names fields it does not store: {sorted(unknown)}")

    @property
    def parent_sources(self) -> tuple[str, ...]:
        """The stored fields read to make the parents: the class field, then the kind's parent inputs."""
        return (self.class_field, *self.parent_inputs)

    @property
    def published_fields(self) -> tuple[str, ...]:
        """The stored fields shown below analyst (classes only), in column order."""
        return tuple(f.name for f in self.fields if f.published)

    @property
    def published_tile_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.tile_fields if name in self.published_fields)

    @property
    def map_classes(self) -> tuple[str, ...]:
        """The classed fields the map draws (shown to every audience)."""
        return tuple(s.field for s in self.schemes)

    def class_values(self) -> tuple[int, int]:
        """The smallest and largest value of the class field (what a listing filter accepts)."""
        scheme = next(s for s in self.schemes if s.field == self.class_field)
        values = [int(c.value) for c in scheme.classes]
        return min(values), max(values)
