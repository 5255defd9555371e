"""The community brief: what a partner's brief shows and leaves out, its scope, the PDF (two A4 pages,
turned into images with pdftoppm) and the scheduled job's files and history.

The world: the KNA parishes with made-up populations and an indicator (round numbers, not census
figures); 900 random thefts over St Kitts dated through 2024 and 2 incidents in Charlestown (Nevis),
under k = 5, so Charlestown's count is hidden from partners; one shared run at resolution 7.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from datetime import date, datetime

import pytest
from bs4 import BeautifulSoup

from app.errors import PrintingUnavailable
from app.jobs import BriefScheduler
from app.services.brief_files import slot_of
from app.store.backends import POSTGIS
from app.services.brief_pdf import html_to_pdf
from app.services.briefs import FIGURE_ROWS, INTERVENTION_ROWS
from tests.conftest import auth
from tests.test_analyses_api import _partner
from tests.test_rates_privacy import CHARLESTOWN, K, world  # noqa: F401  (the shared world fixture)

BASSETERRE_PARISH = "Saint George Basseterre"


def _ids(client, token) -> dict[str, int]:
    rows = client.get("/api/v1/communities", headers=auth(token)).json()["communities"]
    return {r["name"]: r["id"] for r in rows}


def _brief(client, token, community_id: int, **params) -> BeautifulSoup:
    response = client.get(f"/communities/{community_id}/brief", headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    return BeautifulSoup(response.text, "html.parser")


def test_a_partners_brief_holds_aggregates_only(client, tokens, store, world):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    page = _brief(client, world["partner"], ids[BASSETERRE_PARISH])
    assert page.h1.get_text(strip=True) == BASSETERRE_PARISH
    assert len(page.select("section.page")) == 2
    # The figures: trend chart and CompStat, the map of the shared run's cells, ranking, rates, factors.
    assert page.select("svg.trend rect") and page.select("table.compstat")
    cells = page.select("svg.brief-map polygon.cell")
    assert cells and page.select("svg.brief-map polygon.outline") and page.select("ul.legend li")
    assert {c["data-class"] for c in cells} <= {"-3", "-2", "-1", "0", "1", "2", "3"}
    ranking = page.select("table.ranking tr")[1:]
    assert ranking and any("this" in (row.get("class") or []) for row in ranking)
    assert page.select_one("td.raw-rate") is not None and page.select("table.factors")
    assert "unemployment" in page.select_one("table.factors").get_text()
    provenance = page.select_one(".provenance").get_text(" ", strip=True)
    assert "total not published" in provenance and "published monthly figures" in provenance
    assert "Aggregates only" in page.select_one(".privacy-note").get_text()
    assert page.select_one(".interventions") is not None
    # Nothing from which a point or a statistic of exact counts could be read.
    assert not re.search(r"-62\.\d{4,}|17\.\d{4,}", str(page)), "coordinates in a partner's brief"
    for word in ("gi_z", "gi_p", "lisa_i", "latitude", "longitude"):
        assert word not in str(page)
    # Charlestown's 2 incidents (under k) never appear as a count, in its own brief or the ranking.
    charlestown = _brief(client, world["partner"], ids[CHARLESTOWN])
    assert charlestown.select_one(".incidents").get_text(strip=True) == f"fewer than {K}"
    for row in charlestown.select("table.ranking tr")[1:] + ranking:
        for cell in row.select("td.num")[:2]:
            value = cell.get_text(strip=True).replace(",", "")
            assert value == f"fewer than {K}" or int(value) == 0 or int(value) >= K, row
    # Its rates come from that hidden count, so they are hidden too (the population is not a count of incidents).
    assert charlestown.select_one("table.rates") is not None
    for rate in ("td.raw-rate", "td.smoothed-rate", "td.spatial-rate"):
        assert charlestown.select_one(rate).get_text(strip=True) == "–", rate
    assert "under the privacy threshold" in charlestown.select_one("table.rates").find_next("p").get_text()
    # Police see the exact count in the same place.
    police = _brief(client, tokens["analyst"], ids[CHARLESTOWN])
    assert police.select_one(".incidents").get_text(strip=True) == "2"
    assert "Police tier" in police.select_one(".privacy").get_text()
    # Audited, with the month asked for.
    entries = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"action": "brief.view"}).json()
    assert len(entries["entries"]) == 3


def test_a_scoped_partner_cannot_brief_another_community(client, tokens, store, settings, world):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    token = _partner(store, "brief-partner", [BASSETERRE_PARISH])
    assert client.get(f"/communities/{ids[BASSETERRE_PARISH]}/brief", headers=auth(token)).status_code == 200
    for path in ("brief", "brief.pdf"):
        response = client.get(f"/communities/{ids[CHARLESTOWN]}/{path}", headers=auth(token))
        assert response.status_code == 404, (path, response.status_code)
    this_month = datetime.now(settings.zone).strftime("%Y-%m")
    for period, words in (("2024-13", "YYYY-MM"), ("June", "YYYY-MM"), ("2999-01", "has not ended"),
                          (this_month, "has not ended")):
        for path in ("brief", "brief.pdf"):  # a page in words, not a JSON body
            response = client.get(f"/communities/{ids[BASSETERRE_PARISH]}/{path}", headers=auth(token),
                                  params={"period": period})
            assert response.status_code == 400 and response.headers["content-type"].startswith("text/html"), \
                (period, path, response.text[:200])
            refused = BeautifulSoup(response.text, "html.parser")
            assert words in refused.select_one(".error").get_text(), response.text
            assert refused.select_one("a[href]") is not None
    for path in ("brief", "brief.pdf"):  # no such community: a 404 page, as for one outside the scope
        response = client.get(f"/communities/{ids[BASSETERRE_PARISH]}/{path}", headers=auth(token),
                              params={"period": "2024-06" * 10})  # too long: still a page in words
        assert response.status_code == 400 and "YYYY-MM" in response.text
        for community_id in (999_999, ids[CHARLESTOWN], "basseterre", "9" * 30):
            response = client.get(f"/communities/{community_id}/{path}", headers=auth(token))
            assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
            assert "no community" in BeautifulSoup(response.text, "html.parser").select_one(".error").get_text()
    # A month in the series: the CompStat month is that month, the chart stops there.
    page = _brief(client, token, ids[BASSETERRE_PARISH], period="2024-06")
    assert page.select_one(".period").get_text() == "2024-06"
    compstat = page.select_one("table.compstat").get_text()
    assert "This month (2024-06)" in compstat and "Last month (2024-05)" in compstat
    assert all(title.get_text() < "2024-07" for title in page.select("svg.trend rect title"))
    # A newer police-only run: police brief from it, the partner's still from the shared run.
    police_run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                             json={"resolution": 7, "permutations": 0, "seed": 2}).json()["id"]
    shared_heading = _brief(client, token, ids[BASSETERRE_PARISH]).select_one("h2.map-heading").get_text()
    assert shared_heading.endswith(f" {world['run_id']}")
    police_heading = _brief(client, tokens["analyst"], ids[BASSETERRE_PARISH]).select_one("h2.map-heading").get_text()
    assert police_heading.endswith(f" {police_run}") and police_run != world["run_id"]


needs_printing = pytest.mark.skipif(not shutil.which("pdftoppm") or not shutil.which("chromium"),
                                    reason="Chromium and poppler-utils (scripts/ensure-browser.sh) are needed")


@needs_printing
def test_the_pdf_is_two_a4_pages_with_the_map_and_figures(client, tokens, world, tmp_path):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    response = client.get(f"/communities/{ids[BASSETERRE_PARISH]}/brief.pdf", headers=auth(world["partner"]))
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(response.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M), info
    assert re.search(r"Page size:.*\(A4\)", info), info
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert BASSETERRE_PARISH in text and "Hot-spot map" in text and "Place in the ranking" in text
    assert "Privacy." in text and "Aggregates only" in text
    # Page 1 as pixels: the chart's bars (#d62f27) and the map's cells are drawn, not an empty page.
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "raw")], check=True)
    pixels = _ppm_pixels(next(tmp_path.glob("raw*.ppm")).read_bytes())
    assert (0xD6, 0x2F, 0x27) in pixels
    assert sum(p != (255, 255, 255) for p in pixels) > len(pixels) // 20
    if keep := os.environ.get("HOTSPOTS_KEEP_BRIEF_PNG"):  # to look at the pages
        for page in pages:
            shutil.copy(page, f"{keep}/{page.name}")


def _ppm_pixels(data: bytes) -> list[tuple[int, int, int]]:
    """The (r, g, b) pixels of a binary PPM (P6, 8 bits) as pdftoppm writes it."""
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P6" and fields[3] == b"255"
    body = fields[4]
    return [tuple(body[i:i + 3]) for i in range(0, len(body) - 2, 3)]  # type: ignore[misc]


def test_without_chromium_a_pdf_is_refused_in_words(settings):
    missing = settings.model_copy(update={"chromium_path": "/nonexistent/chromium"})
    with pytest.raises(PrintingUnavailable) as refused:
        html_to_pdf("<p>brief</p>", missing)
    assert "browser's Print" in refused.value.message and refused.value.status_code == 503


@needs_printing
def test_the_scheduled_job_writes_each_brief_once_with_its_history(client, tokens, store, settings, world,  # noqa: F811
                                                                   tmp_path, session_factory):
    scheduled = settings.model_copy(update={"briefs_dir": tmp_path / "briefs", "briefs_schedule": "monthly",
                                            "briefs_communities": [BASSETERRE_PARISH, "Nowhere Parish"]})
    made = BriefScheduler(session_factory, POSTGIS, scheduled).run_once()  # the job's pass, in the test's transaction
    written = [m for m in made if m.sha256]
    failed = [m for m in made if not m.sha256]
    assert len(written) == 1 and len(failed) == 1 and "Nowhere Parish" in failed[0].error
    brief = written[0]
    assert brief.path.is_file() and brief.path.parent == tmp_path / "briefs" / slot_of("monthly", datetime.now(scheduled.zone).date())
    assert slot_of("weekly", date(2026, 12, 2)) == "2026-W49" and slot_of("monthly", date(2026, 12, 2)) == "2026-12"
    assert hashlib.sha256(brief.path.read_bytes()).hexdigest() == brief.sha256
    assert brief.audience == "partner" and re.fullmatch(r"\d{4}-\d{2}", brief.period or "")
    rows = store.briefs.brief_history(limit=10)
    assert [(r["community"], r["status"]) for r in rows] == [("Nowhere Parish", "failed"),
                                                            (BASSETERRE_PARISH, "written")]
    assert rows[1]["path"] == str(brief.path) and rows[1]["sha256"] == brief.sha256
    assert not list(brief.path.parent.glob(".brief-*")), "a temporary file was left behind"
    # The slot is done: a second pass writes nothing new for Basseterre.
    again = BriefScheduler(session_factory, POSTGIS, scheduled).run_once()
    assert [m.community for m in again] == ["Nowhere Parish"]
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"action": "brief.write"}).json()
    assert {(e["outcome"], e["user_name"]) for e in audit["entries"]} == {("ok", "scheduled briefs"),
                                                                       ("failed", "scheduled briefs")}


def test_partner_briefs_are_read_as_the_restricted_database_role(store, settings):
    from sqlalchemy import text

    from app.services.brief_files import _read_as, partner_audience

    def role() -> dict:
        return {"role": store.session.execute(text("SELECT current_user")).scalar_one()}

    assert _read_as(store, partner_audience(settings, BASSETERRE_PARISH), role) == {"role": "hotspots_restricted"}
    assert role()["role"] != "hotspots_restricted"  # the history is written as the service's own role


def _pdf_words(path) -> str:
    """The PDF's text with runs of white space as one space (a table cell may wrap)."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


@needs_printing
def test_a_scheduled_brief_holds_its_own_community_only(client, tokens, store, settings, world,  # noqa: F811
                                                       tmp_path, session_factory):
    # A newer shared run of another community alone (what that community's partners see).
    other = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]), json={
        "communities": [CHARLESTOWN], "resolution": 7, "permutations": 0, "seed": 4, "audience": "shared"})
    assert other.status_code == 202, other.text
    scheduled = settings.model_copy(update={"briefs_dir": tmp_path / "briefs", "briefs_schedule": "monthly",
                                            "briefs_communities": [BASSETERRE_PARISH]})
    [brief] = BriefScheduler(session_factory, POSTGIS, scheduled).run_once()
    assert brief.sha256 and brief.audience == "partner"
    words = _pdf_words(brief.path)
    # Nothing of any other community: no row of theirs in the ranking, no run-wide cell count.
    shown = [name for name in world["polygons"] if name != BASSETERRE_PARISH and name in words]
    assert not shown, f"other communities in a partner's brief of {BASSETERRE_PARISH}: {shown}"
    assert not re.search(r"H3 resolution 7 · [\d,]+ cells", words), words
    assert re.search(r"\d+ of \d+ communities in run", words), "its own place in the ranking is still given"
    assert BASSETERRE_PARISH in words and f"Run {world['run_id']} counts" in words
    assert f"Run {other.json()['id']} counts" not in words


def test_a_failed_brief_is_recorded_once(client, tokens, store, settings, world, tmp_path,  # noqa: F811
                                        session_factory):
    no_printer = settings.model_copy(update={"briefs_dir": tmp_path / "briefs", "briefs_schedule": "monthly",
                                             "briefs_communities": [BASSETERRE_PARISH, "Nowhere Parish"],
                                             "chromium_path": "/nonexistent/chromium"})
    for _ in range(3):  # the job's hourly passes: each tries again
        made = BriefScheduler(session_factory, POSTGIS, no_printer).run_once()
        assert [(m.community, m.sha256) for m in made] == [(BASSETERRE_PARISH, None), ("Nowhere Parish", None)]
        assert "browser's Print" in made[0].error and "no community named 'Nowhere Parish'" in made[1].error
    rows = store.briefs.brief_history(limit=20)
    assert sorted((r["community"], r["status"], r["error"]) for r in rows) == sorted(
        (m.community, "failed", m.error) for m in made), "each failure once, with the reason the job returned"
    entries = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"action": "brief.write"}).json()
    assert sorted((e["outcome"], e["details"]["community"]) for e in entries["entries"]) == [
        ("failed", "Nowhere Parish"), ("failed", BASSETERRE_PARISH)]


def _police_run(client, token: str, start: str, end: str) -> int:
    response = client.post("/api/v1/analyses", headers=auth(token), json={
        "resolution": 7, "permutations": 0, "seed": 5, "start": start, "end": end})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_a_brief_for_a_month_shows_the_latest_run_that_had_ended_by_then(client, tokens, world):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    basseterre = ids[BASSETERRE_PARISH]

    def police_run(start: str, end: str) -> int:
        return _police_run(client, tokens["analyst"], start, end)

    second_quarter, fourth_quarter = police_run("2024-04-01", "2024-07-01"), police_run("2024-10-01", "2025-01-01")

    def run_heading(token: str, **params) -> str:
        return _brief(client, token, basseterre, **params).select_one("h2.map-heading").get_text()

    june = _brief(client, tokens["analyst"], basseterre, period="2024-06")
    assert june.select_one("h2.map-heading").get_text().endswith(f" {second_quarter}")
    said = june.select_one(".run-shown").get_text(" ", strip=True)
    assert f"Run {second_quarter}" in said and "2024-04-01 to 2024-06-30" in said and "by the end of 2024-06" in said
    assert june.select("svg.brief-map polygon.cell") and f"in run {second_quarter}" in june.select_one(".rank").parent.get_text()
    assert run_heading(tokens["analyst"], period="2024-11").endswith(f" {second_quarter}")
    assert run_heading(tokens["analyst"], period="2024-12").endswith(f" {fourth_quarter}")
    assert run_heading(tokens["analyst"]).endswith(f" {fourth_quarter}")  # no month asked: the latest run
    # No run had ended by the end of March 2024 (the shared run counts up to the last whole month).
    march = _brief(client, tokens["analyst"], basseterre, period="2024-03")
    assert march.select_one("svg.brief-map") is None
    assert "by the end of 2024-03" in march.select_one(".no-run").get_text(" ", strip=True)
    # The partner's brief of June: the shared run describes later months too, so it is not shown.
    partner_june = _brief(client, world["partner"], basseterre, period="2024-06")
    assert partner_june.select_one(".no-run") is not None and partner_june.select_one("table.ranking") is None
    assert run_heading(world["partner"]).endswith(f" {world['run_id']}")


def test_a_brief_for_a_month_shows_the_period_that_ends_latest_whatever_order_the_runs_were_made(
        client, tokens, world):  # noqa: F811
    basseterre = _ids(client, tokens["analyst"])[BASSETERRE_PARISH]
    # The fourth quarter was run first, the second quarter afterwards (a newer run of an older period).
    fourth_quarter = _police_run(client, tokens["analyst"], "2024-10-01", "2025-01-01")
    second_quarter = _police_run(client, tokens["analyst"], "2024-04-01", "2024-07-01")
    december = _brief(client, tokens["analyst"], basseterre, period="2024-12")
    # The heading says what the run measured, as the map and the print sheet do.
    assert december.select_one("h2.map-heading").get_text(" ", strip=True) == \
        f"Hot-spot map: Hot spots of volume, run {fourth_quarter}"
    said = december.select_one(".run-shown").get_text(" ", strip=True)
    assert f"Run {fourth_quarter}" in said and "2024-10-01 to 2024-12-31" in said
    september = _brief(client, tokens["analyst"], basseterre, period="2024-09")
    assert september.select_one("h2.map-heading").get_text().endswith(f" {second_quarter}")
    # No month asked: the run made last.
    latest = _brief(client, tokens["analyst"], basseterre).select_one("h2.map-heading").get_text()
    assert latest.endswith(f" {second_quarter}")


def test_the_page_and_the_brief_show_the_latest_run_the_reader_may_see(client, tokens, store, world):  # noqa: F811
    from sqlalchemy import text

    ids = _ids(client, tokens["analyst"])
    basseterre = ids[BASSETERRE_PARISH]
    newer = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                        json={"resolution": 7, "permutations": 0, "seed": 1, "audience": "shared"}).json()["id"]
    # Counted under weaker rules (before categories were classed): partners may no longer open it,
    # and it must not hide the older shared run they may.
    store.session.execute(text("UPDATE hotspot_runs SET parameters = parameters - 'sensitive_categories' "
                               "WHERE id = :id"), {"id": newer})
    page = client.get(f"/communities/{basseterre}", headers=auth(world["partner"]))
    assert page.status_code == 200
    links = {a["href"] for a in BeautifulSoup(page.text, "html.parser").select("a[href^='/maps/analyses/']")}
    assert f"/maps/analyses/{world['run_id']}" in links and f"/maps/analyses/{newer}" not in links
    heading = _brief(client, world["partner"], basseterre).select_one("h2.map-heading").get_text()
    assert heading.endswith(f" {world['run_id']}")
    # Police see the newer run in both.
    assert _brief(client, tokens["analyst"], basseterre).select_one("h2.map-heading").get_text().endswith(f" {newer}")
    police_page = BeautifulSoup(client.get(f"/communities/{basseterre}", headers=auth(tokens["analyst"])).text,
                                "html.parser")
    assert f"/maps/analyses/{newer}" in {a["href"] for a in police_page.select("a[href^='/maps/analyses/']")}


@needs_printing
def test_a_brief_with_long_lists_still_prints_on_two_pages(client, tokens, world, tmp_path):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    basseterre = ids[BASSETERRE_PARISH]
    names = sorted(world["polygons"])
    columns = [f"indicator number {i} with a long name" for i in range(20)]  # made up
    factors = "parish," + ",".join(columns) + "\n" + "".join(
        f"{n}," + ",".join(str(1 + (i + j) % 9) for j in range(len(columns))) + "\n" for i, n in enumerate(names))
    assert client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]), data={"kind": "indicator"},
                       files={"file": ("many.csv", factors.encode())}).status_code == 201
    for i in range(12):
        created = client.post("/api/v1/interventions", headers=auth(tokens["analyst"]), json={
            "name": f"Community programme number {i} with a long descriptive name", "starts_on": "2024-03-01",
            "ends_on": "2024-05-31", "shared": True, "target_communities": [basseterre]})
        assert created.status_code == 201, created.text
    response = client.get(f"/communities/{basseterre}/brief.pdf", headers=auth(world["partner"]))
    assert response.status_code == 200, response.text[:300]
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(response.content)
    if keep := os.environ.get("HOTSPOTS_KEEP_BRIEF_PNG"):  # to look at the pages
        shutil.copy(pdf, f"{keep}/long.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M), info
    page = _brief(client, world["partner"], basseterre)
    assert len(page.select("table.factors tr")) - 1 == FIGURE_ROWS
    assert page.select_one(".figures-more").get_text(strip=True) == f"And {22 - FIGURE_ROWS} more on the community's page."
    assert len(page.select(".interventions li")) == INTERVENTION_ROWS
    assert f"And {12 - INTERVENTION_ROWS} more" in page.select_one(".interventions-more").get_text()
    assert "Aggregates only" in _pdf_words(pdf)  # the privacy note is on the page, not cut off


def test_odd_community_addresses_get_a_page_not_a_500(client, tokens):
    # 5,000 digits are past int()'s limit; "²" is a digit to str.isdigit but not to int()
    for odd in ("9" * 5000, "²", "12a", "0"):
        for suffix in ("brief", "brief.pdf"):
            response = client.get(f"/communities/{odd}/{suffix}", headers=auth(tokens["viewer"]))
            assert response.status_code == 404, (odd[:10], suffix, response.status_code)
            assert "There is no community" in response.text
