"""Trends per community through the API and on the community page, for police and below analyst.

Basseterre: thefts in the 14 months 2024-02 .. 2025-03 (the last on 31 March, so March is complete):
8, 12, 9, 11, 10, 7, 13, 10, 9, 11, 12, 8, then 30 and 60. Charlestown: 3 in February 2025, 6 in March
(3 -> 6: p = 0.51 by scipy.stats.binomtest(6, 9)). k = 5.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from app.services.incident_import import import_incidents
from spatial.incidents_io import ReadOptions
from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes, _partner

CHARLESTOWN = (17.1385, -62.6230)
BASSETERRE_MONTHS = [(f"2024-{m:02d}", n) for m, n in zip(range(2, 13), [8, 12, 9, 11, 10, 7, 13, 10, 9, 11, 12])]
BASSETERRE_MONTHS += [("2025-01", 8), ("2025-02", 30), ("2025-03", 60)]


@pytest.fixture
def trend_world(client, tokens, store, tmp_path) -> dict:
    _activate_parishes(client, tokens["gis"])
    lines = ["id,latitude,longitude,date,category"]
    for month, n in BASSETERRE_MONTHS:
        for i in range(n):
            day = {("2025-03", 0): "31", ("2024-02", 0): "01"}.get((month, i), "15")  # whole months from February
            lines.append(f"b{month}-{i},{BASSETERRE[0]},{BASSETERRE[1]},{month}-{day} 10:00,Theft")
    for month, n in (("2025-02", 3), ("2025-03", 6)):
        lines += [f"c{month}-{i},{CHARLESTOWN[0]},{CHARLESTOWN[1]},{month}-15 10:00,Theft" for i in range(n)]
    path = tmp_path / "trend.csv"
    path.write_text("\n".join(lines) + "\n")
    import_incidents(store, path, filename=path.name, source="trend", options=ReadOptions())
    store.session.commit()
    ids = {c["name"]: c["id"] for c in client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()[
        "communities"]}
    return {"ids": ids, "partner": _partner(store, "basseterre-council", ["Saint George Basseterre"])}


def test_compstat_table_for_police(client, tokens, trend_world):
    body = client.get("/api/v1/trends", headers=auth(tokens["analyst"])).json()
    assert body["step"] == "month" and body["latest_complete"] == "2025-03" and len(body["periods"]) == 14
    rows = {r["community"]: r for r in body["communities"]}
    assert len(rows) == 14
    basseterre = rows["Saint George Basseterre"]
    assert basseterre["this_period"] == {"period": "2025-03", "incidents": 60}
    assert basseterre["last_period"] == {"period": "2025-02", "incidents": 30}
    assert basseterre["change"]["verdict"].startswith("up 100 %, unlikely to be chance")
    assert basseterre["year_earlier"]["period"] == "2024-03" and basseterre["year_earlier"]["incidents"] == 12
    assert basseterre["year_earlier"]["change"]["significant"]
    # two high months after a flat year are a jump, not a steady rise: Mann-Kendall does not call it a trend
    assert basseterre["trend"]["verdict"] == "no clear trend over the 14 months (Mann-Kendall p = 0.14)"
    charlestown = rows["Saint Paul Charlestown"]
    assert charlestown["change"]["verdict"] == "up 100 %, within normal variation (p = 0.51)"
    assert not charlestown["change"]["significant"]


def test_one_community_weekly_for_police_and_bad_parameters(client, tokens, trend_world):
    police = auth(tokens["analyst"])
    basseterre = trend_world["ids"]["Saint George Basseterre"]
    weekly = client.get(f"/api/v1/communities/{basseterre}/trends?step=week&periods=8", headers=police).json()
    assert weekly["step"] == "week" and len(weekly["series"]) == 8
    assert weekly["latest_complete"] == "week of 2025-03-24"  # the week of Monday 31 March is not complete
    assert weekly["series"][-3] == {"period": "week of 2025-03-10", "incidents": 59}
    assert weekly["compstat"]["year_earlier"] is None
    for query, words in (("step=day", "step must be 'month' or 'week'"), ("periods=1", "between 2 and 120"),
                         ("step=week&periods=1000", "between 2 and 260")):
        response = client.get(f"/api/v1/communities/{basseterre}/trends?{query}", headers=police)
        assert response.status_code == 400 and words in response.json()["error"]["message"], query
    assert client.get("/api/v1/trends?periods=abc", headers=police).status_code == 422
    assert client.get("/api/v1/communities/999999/trends", headers=police).status_code == 404


def test_partners_get_published_months_of_their_communities_only(client, tokens, trend_world):
    partner = auth(trend_world["partner"])
    table = client.get("/api/v1/trends", headers=partner).json()
    assert [r["community"] for r in table["communities"]] == ["Saint George Basseterre"]
    assert any("hidden" in note for note in table["notes"])
    row = table["communities"][0]
    assert row["this_period"]["incidents"] == 60 and row["last_period"]["incidents"] == 30
    basseterre, charlestown = trend_world["ids"]["Saint George Basseterre"], trend_world["ids"]["Saint Paul Charlestown"]
    assert client.get(f"/api/v1/communities/{charlestown}/trends", headers=partner).status_code == 404
    weekly = client.get(f"/api/v1/communities/{basseterre}/trends?step=week", headers=partner)
    assert weekly.status_code == 400 and "police users only" in weekly.json()["error"]["message"]
    # a viewer sees every community, from published sums: Charlestown's 3 in February is hidden, never tested
    viewer = client.get(f"/api/v1/communities/{charlestown}/trends", headers=auth(tokens["viewer"])).json()
    assert viewer["series"][-2:] == [{"period": "2025-02", "incidents": None}, {"period": "2025-03", "incidents": 6}]
    change = viewer["compstat"]["change"]
    assert change["p"] is None and change["verdict"] == "cannot be compared: a month is hidden (fewer than 5 published)"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_community_page_says_the_trend_in_words(client, tokens, trend_world):
    ids = trend_world["ids"]
    police = auth(tokens["analyst"])
    page = _text(client.get(f"/communities/{ids['Saint George Basseterre']}", headers=police).text)
    assert "Trend" in page and "This month (2025-03) 60" in page and "Last month (2025-02) 30" in page
    assert "Change up 100 %, unlikely to be chance (p = 0.0021) Significant? yes (p = 0.0021)" in page
    assert "Same month last year (2024-03) 12 : up 400 %, unlikely to be chance (p < 0.001)" in page
    assert "Long-run trend no clear trend over the 14 months" in page
    assert "Month-to-month swings as chance gives (dispersion 0.5): plain Poisson test." in page
    small = _text(client.get(f"/communities/{ids['Saint Paul Charlestown']}", headers=police).text)
    assert "Change up 100 %, within normal variation (p = 0.51) Significant? no (p = 0.51)" in small
    partner = _text(client.get(f"/communities/{ids['Saint George Basseterre']}",
                               headers=auth(trend_world["partner"])).text)
    assert "This month (2025-03) 60" in partner and "Change up 100 %, unlikely to be chance" in partner
    assert "A month with nothing published is hidden (fewer than 5, or none)" in partner
    viewer = _text(client.get(f"/communities/{ids['Saint Paul Charlestown']}", headers=auth(tokens["viewer"])).text)
    assert "Last month (2025-02) fewer than 5" in viewer
    assert "Change cannot be compared: a month is hidden (fewer than 5 published) Significant? cannot tell" in viewer
