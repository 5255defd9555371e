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
    # Police see the exact count in the same place.
    police = _brief(client, tokens["analyst"], ids[CHARLESTOWN])
    assert police.select_one(".incidents").get_text(strip=True) == "2"
    assert "Police tier" in police.select_one(".privacy").get_text()
    # Audited, with the month asked for.
    entries = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"action": "brief.view"}).json()
    assert len(entries["entries"]) == 3


def test_a_scoped_partner_cannot_brief_another_community(client, tokens, store, world):  # noqa: F811
    ids = _ids(client, tokens["analyst"])
    token = _partner(store, "brief-partner", [BASSETERRE_PARISH])
    assert client.get(f"/communities/{ids[BASSETERRE_PARISH]}/brief", headers=auth(token)).status_code == 200
    for path in ("brief", "brief.pdf"):
        response = client.get(f"/communities/{ids[CHARLESTOWN]}/{path}", headers=auth(token))
        assert response.status_code == 404, (path, response.status_code)
    for period, words in (("2024-13", "YYYY-MM"), ("June", "YYYY-MM"), ("2999-01", "has not happened")):
        response = client.get(f"/communities/{ids[BASSETERRE_PARISH]}/brief", headers=auth(token),
                              params={"period": period})
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    # A month in the series: the CompStat month is that month, the chart stops there.
    page = _brief(client, token, ids[BASSETERRE_PARISH], period="2024-06")
    assert page.select_one(".period").get_text() == "2024-06"
    compstat = page.select_one("table.compstat").get_text()
    assert "This month (2024-06)" in compstat and "Last month (2024-05)" in compstat
    assert all(title.get_text() < "2024-07" for title in page.select("svg.trend rect title"))
    # A newer police-only run: police brief from it, the partner's still from the shared run.
    police_run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                             json={"resolution": 7, "permutations": 0, "seed": 2}).json()["id"]
    shared_heading = _brief(client, token, ids[BASSETERRE_PARISH]).select("h2")[1].get_text()
    assert shared_heading.endswith(f" {world['run_id']}")
    police_heading = _brief(client, tokens["analyst"], ids[BASSETERRE_PARISH]).select("h2")[1].get_text()
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

    assert _read_as(store, partner_audience(settings), role) == {"role": "hotspots_restricted"}
    assert role()["role"] != "hotspots_restricted"  # the history is written as the service's own role
