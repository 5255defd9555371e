"""Trends per community on both stores: exact counts per month and week (police), the published monthly
sums (everyone else), and the CompStat rows built from each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import BadRequest
from app.privacy import Audience
from app.services import trends as trend_service
from app.services.incident_import import import_incidents
from spatial.emerging.steps import time_steps
from spatial.incidents_io import ReadOptions
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import BASSETERRE, load_parishes, write_rows

POLICE = Audience(role="analyst", raw=True, min_count=5, max_resolution=8, hold_back_days=0, communities=None)
PARTNER = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0,
                   communities=frozenset({"Saint George Basseterre"}))
BASSETERRE_NAME = "Saint George Basseterre"


def _rows(category: str, day: str, n: int, prefix: str) -> list[tuple]:
    lon, lat = BASSETERRE
    return [(f"{prefix}{i}", day, category, lat, lon, "") for i in range(n)]


@pytest.fixture
def basseterre(store: StoreUnderTest, tmp_path) -> int:
    """Theft 3 in January 2025, 6 in February, 14 in March (12 + one on Monday 10 March and one late on
    Sunday 16 March, local time: Monday 17 March in UTC); 2 robberies and 9 domestic violence (sensitive) in March;
    the last incident on 31 March, so March is complete."""
    load_parishes(store)
    rows = (_rows("Theft", "2025-01-15 10:00", 3, "j") + _rows("Theft", "2025-02-12 10:00", 6, "f")
            + _rows("Theft", "2025-03-04 10:00", 11, "m") + _rows("Theft", "2025-03-10 09:00", 1, "w")
            + _rows("Theft", "2025-03-16 23:30", 1, "s") + _rows("Theft", "2025-03-31 12:00", 1, "e")
            + _rows("Robbery", "2025-03-05 10:00", 2, "r") + _rows("Domestic violence", "2025-03-06 10:00", 9, "d"))
    import_incidents(store, write_rows(tmp_path, "trend.csv", rows), filename="trend.csv", source="TREND",
                     options=ReadOptions(timezone=store.settings.timezone))
    return next(c["id"] for c in store.boundaries.list_active_communities() if c["name"] == BASSETERRE_NAME)


def test_exact_counts_per_period_in_the_local_zone(store: StoreUnderTest, basseterre: int):
    zone = store.settings.zone
    first, last = store.boundaries.incident_time_range()
    assert first.astimezone(zone).date().isoformat() == "2025-01-15"
    assert last.astimezone(zone).date().isoformat() == "2025-03-31"
    months = time_steps(datetime(2025, 1, 1), datetime(2025, 4, 1), "month", zone)
    counted = store.boundaries.incident_counts_per_period([b.astimezone(UTC) for b in months.bounds])
    assert [(months.labels[r["period"]], r["incidents"]) for r in counted if r["community_id"] == basseterre] == [
        ("2025-01", 3), ("2025-02", 6), ("2025-03", 25)]
    weeks = time_steps(datetime(2025, 3, 3), datetime(2025, 4, 7), "week", zone)
    counted = store.boundaries.incident_counts_per_period(list(weeks.bounds), community_id=basseterre)
    assert {r["community_id"] for r in counted} == {basseterre}
    # Sunday 16 March 23:30 local is Monday in UTC: it counts in the week of 10 March
    assert [(weeks.labels[r["period"]], r["incidents"]) for r in counted] == [
        ("week of 2025-03-03", 22), ("week of 2025-03-10", 2), ("week of 2025-03-31", 1)]
    assert store.boundaries.incident_counts_per_period(months.bounds[:1]) == []


def test_published_months_are_the_published_breakdown(store: StoreUnderTest, basseterre: int):
    published = store.boundaries.published_months(store.settings.timezone)
    ours = [(r["month"], r["incidents"]) for r in published if r["community_id"] == basseterre]
    # January's 3 thefts are under k = 5; March: the 14 thefts only (2 robberies under k, domestic violence sensitive)
    assert ours == [("2025-02", 6), ("2025-03", 14)]
    breakdown = store.boundaries.community_breakdown_aggregated(basseterre, store.settings.timezone)
    assert ours == [(r["month"], r["incidents"]) for r in breakdown["by_month"]]
    assert store.boundaries.published_months(store.settings.timezone, community_id=basseterre) == [
        r for r in published if r["community_id"] == basseterre]


def test_compstat_for_police_and_for_a_partner(store: StoreUnderTest, basseterre: int):
    settings = store.settings
    police = trend_service.compstat_table(store, settings, POLICE, trend_service.options_for("month", 24, POLICE))
    # January is left out: the data start on 15 January, so it is not a whole month
    assert police["periods"] == ["2025-02", "2025-03"] and police["latest_complete"] == "2025-03"
    row = next(r for r in police["communities"] if r["community_id"] == basseterre)
    assert row["this_period"] == {"period": "2025-03", "incidents": 25}
    assert row["last_period"] == {"period": "2025-02", "incidents": 6}
    assert row["change"]["verdict"] == "up 317 %, unlikely to be chance (p < 0.001)"  # 2 P(Bin(31, 1/2) <= 6) = 0.00088
    assert row["trend"]["verdict"] == "too short a series for a trend (2 months known; 6 needed)"
    assert row["year_earlier"] is None
    assert len(police["communities"]) == 14  # every parish, zeros filled
    quiet = next(r for r in police["communities"] if r["community_id"] != basseterre)
    assert quiet["change"]["verdict"] == "no incidents in either month"

    partner = trend_service.compstat_table(store, settings, PARTNER, trend_service.options_for("month", None, PARTNER))
    assert [r["community"] for r in partner["communities"]] == [BASSETERRE_NAME]
    row = partner["communities"][0]
    assert row["this_period"]["incidents"] == 14 and row["last_period"]["incidents"] == 6
    assert "hidden" in " ".join(partner["notes"])
    one = trend_service.community_trend(store, settings, basseterre, PARTNER,
                                        trend_service.options_for("month", None, PARTNER))
    assert one["series"] == [{"period": "2025-02", "incidents": 6}, {"period": "2025-03", "incidents": 14}]
    with pytest.raises(BadRequest, match="police users only"):
        trend_service.options_for("week", None, PARTNER)
    weekly = trend_service.community_trend(store, settings, basseterre, POLICE,
                                           trend_service.options_for("week", 4, POLICE))
    assert [p["incidents"] for p in weekly["series"]] == [22, 2, 0, 0]  # the week of 31 March is not complete
    assert weekly["compstat"]["year_earlier"] is None
