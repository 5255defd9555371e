"""Privacy tiers: what each audience may see.

Analysts and above (police) see points and exact counts. Everyone else —
viewers, partners, the public when enabled — sees aggregates only:

- runs marked ``shared`` (counted without the categories classed sensitive and
  the held-back days, at H3 resolution ``privacy_max_resolution`` or coarser, on
  the publication calendar: app/services/releases.py);
- counts under ``privacy_min_count`` (k, never below 3) suppressed: shown as
  ``null`` with ``suppressed: true``; only the Gi_Bin and LISA classes besides,
  never a statistic computed from exact counts, and every sum over cells shown;
- no sensitive category in any breakdown;
- a partner limited to some communities sees only those; anything else
  answers 404, as if it did not exist.

The database enforces the core of this too: those requests run as the
``hotspots_restricted`` role, which cannot read the incidents table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.auth import Principal
from app.runs import Run
from app.security import sees_raw_data
from app.settings import Settings


# How a shared run left sensitive categories out: by their stored class (incident_categories).
CLASSED = "left out by class"


@dataclass(frozen=True)
class Audience:
    """The privacy rules that apply to one request."""

    role: str
    raw: bool
    min_count: int
    max_resolution: int
    hold_back_days: int
    communities: frozenset[str] | None  # a partner's scope; None: every community

    def count(self, value: int | None) -> int | None:
        """The count as this audience may see it (``None`` when suppressed)."""
        if value is None or self.raw:
            return value
        return int(value) if value >= self.min_count else None

    def sees_community(self, name: str) -> bool:
        return self.communities is None or name in self.communities

    def sees_run(self, run: Run) -> bool:
        """A shared run, coarse enough, counted under rules at least as strict as today's, and (for a
        scoped partner) covering all communities or one of its own. (A run counted before a category
        became sensitive stops being shared then: app/services/sensitive_categories.py.)"""
        if self.raw:
            return True
        parameters = run.parameters
        resolution = parameters.resolution if parameters.resolution is not None else 99
        if run.audience != "shared" or resolution > self.max_resolution:
            return False
        if parameters.hold_back_days < self.hold_back_days:
            return False
        if parameters.sensitive_categories != CLASSED:
            return False  # counted before categories were classed (migration 0009): its rules were weaker
        named = parameters.communities
        return self.communities is None or not named or any(self.sees_community(n) for n in named)

    def keep(self, rows: Iterable[dict[str, Any]], key: str = "community") -> list[dict[str, Any]]:
        """Rows of communities this audience may see."""
        return [r for r in rows if self.sees_community(r[key])]

    def tier_note(self, shared_rules: str = "") -> str:
        """The privacy tier of an output, in words: what was left out or hidden, and why
        (``shared_rules``: what the output's kind adds below analyst)."""
        if self.raw:
            return (f"Police tier ({self.role}): exact counts and every statistic, points where asked for. "
                    "Police data: not to be shared outside the police.")
        scope = " Only the communities this account may see are included." if self.communities is not None else ""
        return (f"Shared tier ({self.role}): from shared runs only; a count under {self.min_count} is hidden "
                "(left empty, with suppressed = true) so that no one can be singled out from a small count, "
                f"and nothing is shown from which a hidden count could be worked out. {shared_rules}{scope}").strip()

    def cache_key(self) -> str:
        """Names what this audience is shown, for cache keys, ETags and saved pages ("raw" for police).

        Two audiences with the same key see the same bytes; a partner's scope is
        hashed so community names never appear in a file name or header.
        """
        if self.raw:
            return "raw"
        rules = [str(self.min_count), str(self.max_resolution), str(self.hold_back_days),
                 "*" if self.communities is None else ",".join(sorted(self.communities))]
        return f"k{self.min_count}-" + hashlib.sha256("\0".join(rules).encode("utf-8")).hexdigest()[:12]


def audience_for(principal: Principal, settings: Settings) -> Audience:
    return Audience(
        role=principal.role,
        raw=sees_raw_data(principal.role),
        min_count=max(settings.privacy_min_count, 3),
        max_resolution=settings.privacy_max_resolution,
        hold_back_days=settings.privacy_hold_back_days,
        communities=principal.communities,
    )


def suppress_counts(row: dict[str, Any], audience: Audience, fields: Iterable[str]) -> dict[str, Any]:
    """Replace small counts in ``row`` by ``None`` and flag the row; returns the row."""
    hidden = False
    for name in fields:
        if row.get(name) is not None:
            shown = audience.count(row[name])
            hidden |= shown is None
            row[name] = shown
    if not audience.raw:
        row["suppressed"] = hidden
    return row
