"""Analysis kinds: each kind of run declares its cells, classes, legend, tiles, CSV and parents.

``KINDS`` is the registry; a run stores its kind's name (``hotspot_runs.kind``)
and every layer asks :func:`kind_named` for the declaration.
"""

from __future__ import annotations

from spatial.kinds.base import AnalysisKind
from spatial.kinds.emerging import EMERGING
from spatial.kinds.hotspot import HOTSPOT

KINDS: dict[str, AnalysisKind] = {kind.name: kind for kind in (HOTSPOT, EMERGING)}
# Runs stored before runs had a kind are of this one (migration 0011's default).
DEFAULT_KIND = HOTSPOT.name


def kind_named(name: str | None) -> AnalysisKind:
    """The kind called ``name`` (None: the default kind); ValueError for a name no kind has."""
    try:
        return KINDS[name or DEFAULT_KIND]
    except KeyError:
        raise ValueError(f"There is no analysis kind {name!r}; kinds are {', '.join(sorted(KINDS))}.") from None


__all__ = ["AnalysisKind", "DEFAULT_KIND", "KINDS", "kind_named"]
