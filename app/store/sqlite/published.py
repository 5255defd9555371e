"""The aggregate functions of migration 0009 on SQLite, which has no SQL functions of its own:
every community figure below analyst is a sum of published atoms, worked out here in Python."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.store.disclosure import Disclosure
from app.store.sql import BoundToSession, month_cutoff, not_sensitive


class PublishedFigures(BoundToSession):
    """``community_incident_totals`` and the atoms of ``community_incident_breakdown``."""

    def atoms(self, where: str, params: dict[str, Any]) -> list[Any]:
        """The published atoms (incidents of one category in one local calendar month that ended at
        least the hold-back ago, k or more each) of the incidents ``where`` selects."""
        rules = Disclosure(self.session, self.sql).rules()
        rows = self.session.execute(
            text(f"SELECT i.community_id, coalesce(i.category, '(none)') AS category, "
                 f"{self.sql.local_month('i.occurred_at')} AS month, count(*) AS n FROM incidents i "
                 f"WHERE {where} AND {not_sensitive('i.category')} AND i.occurred_at < :cutoff GROUP BY 1, 2, 3"),
            {**params, "zone": rules["zone"], "cutoff": month_cutoff(rules["hold_back_days"], rules["zone"])},
        ).all()
        k = max(rules["min_count"], 3)
        return [r for r in rows if r.n >= k]

    def totals(self, set_clause: str, params: dict[str, Any]) -> dict[int, int | None]:
        """Each community's published atoms summed (None when it has none), for the communities
        ``set_clause`` selects."""
        ids = self.session.execute(text(f"SELECT c.id FROM communities c WHERE {set_clause}"), params).scalars().all()
        totals: dict[int, int | None] = dict.fromkeys(ids)
        where = f"i.community_id IN (SELECT c.id FROM communities c WHERE {set_clause})"
        for atom in self.atoms(where, params):
            totals[atom.community_id] = (totals.get(atom.community_id) or 0) + atom.n
        return totals

    def active_set_totals(self) -> dict[int, int | None]:
        """``totals`` of the active boundary set's communities."""
        return self.totals("c.boundary_set_id = (SELECT id FROM boundary_sets WHERE is_active)", {})
