"""SQL fragments both stores run as they are: IN lists, LIKE lists, time cut-offs, a point in a box.

Values are always bound; parameter names are made here from fixed prefixes and positions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.store.backend import is_sqlite


def in_list(column: str, values: list[Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """``column IN (...)`` over bound parameters (an empty list matches nothing)."""
    names = [f"{prefix}_{n}" for n in range(len(values))]
    if not names:
        return "1 = 0", {}
    return f"{column} IN ({', '.join(':' + n for n in names)})", dict(zip(names, values, strict=True))


def not_like_any(column: str, patterns: list[str], prefix: str = "excluded") -> tuple[str, dict[str, Any]]:
    """``NOT lower(coalesce(column, '')) LIKE ANY(patterns)``, escaped with a backslash as PostgreSQL does."""
    if not patterns:
        return "1 = 1", {}
    names = [f"{prefix}_{n}" for n in range(len(patterns))]
    tests = " OR ".join(f"lower(coalesce({column}, '')) LIKE :{name} ESCAPE '\\'" for name in names)
    return f"NOT ({tests})", dict(zip(names, patterns, strict=True))


def hold_back_cutoff(days: int) -> datetime:
    """Incidents before this time are old enough to show (``now() - hold_back_days``)."""
    return datetime.now(UTC) - timedelta(days=max(days, 0))


def point_in_box(session: Session) -> str:
    """Incidents inside the box bound as ``:west, :south, :east, :north`` (GiST on PostGIS)."""
    if is_sqlite(session):
        return "lat BETWEEN :south AND :north AND lon BETWEEN :west AND :east"
    return "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"
