"""The map in a real browser: Debian's Chromium, headless, driven by Playwright, against the real service.

Each test runs on both backends (PostGIS, and the embedded SQLite file of the demo).
A database of its own (committed data: another process must see it) holds the
KNA parishes, SYNTHETIC incidents and one completed run; the service runs under
uvicorn on 127.0.0.1. The test signs in through the page with a token, opens
the run's map and checks that hexagons are drawn, the legend shows, nothing
fails, and no request leaves 127.0.0.1. Screenshots go to tests/artifacts/.
Skipped only when Chromium or Playwright is genuinely absent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from spatial.kinds.hotspot import GI_CLASSES, LISA_CLASSES

from tests.accessibility import serious_violations
from tests.browser_support import ROOT, PageWatch, backend_database, browser_missing, chromium, live_service, \
    load_kna_run

missing = browser_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")
ARTIFACTS = ROOT / "tests" / "artifacts"
# A cell's tooltip (community and town names are permanent tooltips too).
CELL_TIP = ".leaflet-tooltip:not(.hotspots-label):not(.hotspots-place-label)"


def _rgb(hex_colour: str) -> str:
    """"#d62f27" as the browser reports a computed colour: "rgb(214, 47, 39)"."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module", params=["postgis", "sqlite"])
def service(request, tmp_path_factory) -> dict:
    """The same service and data on each backend (PostGIS, and the embedded SQLite of the demo)."""
    folder = tmp_path_factory.mktemp("embedded")
    with backend_database(request.param, f"hotspots_browser_{os.getpid()}", folder) as url:
        loaded = load_kna_run(url)
        # KNA at resolution 9 is ~3,200 cells: inline them here (tiles are checked with the large run).
        with live_service(url, tmp_path_factory.mktemp("static"), map_inline_max_cells="5000") as origin:
            yield {"origin": origin, "backend": request.param, **loaded}


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def sign_in_through_page(page, origin: str, token: str, target: str) -> None:
    page.goto(f"{origin}{target}")
    assert "/sign-in" in page.url, "an unauthenticated page should send the browser to sign in"
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def test_run_map_draws_hexagons_and_legend_offline(service, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/maps/analyses/{service['run_id']}"
    sign_in_through_page(page, service["origin"], service["token"], target)
    assert page.url == service["origin"] + target

    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    drawn = page.locator("path.hotspots-firstStyle").count()
    assert drawn == service["cells"], f"{drawn} hexagons drawn, the run has {service['cells']} cells"
    legend = page.locator(".hotspots-legend")
    assert legend.is_visible()
    assert "Hot spot 99 % confidence" in legend.inner_text() and "Cold spot 99 % confidence" in legend.inner_text()
    assert page.locator(".leaflet-control-layers").is_visible()
    assert page.locator("path.hotspots-communities").count() >= 10
    screenshot = ARTIFACTS / f"map-{service['backend']}.png"
    screenshot.unlink(missing_ok=True)
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000  # kept for a person to look at (git-ignored)

    # The LISA layer toggles on from the layer control.
    page.locator(".leaflet-control-layers label", has_text="Clusters and outliers (LISA)").click()
    page.wait_for_selector("path.hotspots-secondStyle", state="attached")
    assert page.locator("path.hotspots-secondStyle").count() == service["cells"]
    # A tooltip shows a cell's figures.
    page.locator("path.hotspots-secondStyle").nth(service["cells"] // 2).hover(force=True)
    page.wait_for_selector(CELL_TIP, timeout=5_000)
    assert "Incidents" in page.locator(CELL_TIP).inner_text()
    page.screenshot(path=str(ARTIFACTS / f"map-lisa-{service['backend']}.png"))
    # Tooltip words: a tiny p reads "< 0.001"; a coarser hexagon says it stands for several cells.
    cell = page.evaluate("HOTSPOTS.tooltip({community: 'X', incidents: 3, gi_z: 4.2, gi_p_fdr: 0.00001, gi_bin: 3, "
                         "lisa_label: 'High-High'})")
    assert "&lt; 0.001" in cell and "0.0000" not in cell and "Hot spot 99 % confidence" in cell
    assert "Smoothed rate" not in cell  # a run of counts has no rate row
    risk = page.evaluate("HOTSPOTS.tooltip({community: 'X', incidents: 3, gi_z: 4.2, gi_p_fdr: 0.01, gi_bin: 2, "
                         "lisa_label: 'High-High', smoothed_rate: 12.345})")
    assert "Smoothed rate per 1,000 residents" in risk and "12.35" in risk  # a rate run's cell
    parent = page.evaluate("HOTSPOTS.tooltip({cells: 7, incidents: 20, gi_bin: 2, resolution: 7})")
    assert "7 cells combined" in parent and "strongest class" in parent and "LISA" not in parent

    assert page.evaluate("document.cookie") == "", "the session cookie must be HttpOnly"
    (cookie,) = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and service["token"] not in cookie["value"]
    assert watch.console_errors == [] and watch.page_errors == []
    assert watch.failed == []
    assert watch.outside == [], "every request must stay on 127.0.0.1"
    context.close()


def test_colour_blind_safe_colours_switch_cells_legend_and_print_and_are_kept(service, browser):
    """The legend's "Colour-blind-safe colours" checkbox (used from the keyboard) redraws the cells and the
    swatches in the safe colours; the choice is kept on reload and the print sheet follows it; axe-core
    finds no serious problem on the page with the switch on."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/maps/analyses/{service['run_id']}"
    sign_in_through_page(page, service["origin"], service["token"], target)
    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    usual = {c.colour: c for c in GI_CLASSES}
    safe = {c.safe_colour: c for c in GI_CLASSES}

    def cell_fills(selector: str = "path.hotspots-firstStyle") -> list[str]:
        return page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('fill'))")

    def hottest_swatch() -> str:  # the legend's first Gi* swatch: "Hot spot 99 % confidence"
        return page.locator(".hotspots-legend [data-scheme='0'] .swatch").first.evaluate(
            "e => getComputedStyle(e).backgroundColor")

    before = cell_fills()
    assert len(before) == service["cells"] and set(before) <= set(usual)
    assert hottest_swatch() == _rgb(GI_CLASSES[0].colour)
    switch = page.get_by_role("checkbox", name="Colour-blind-safe colours")
    assert switch.is_visible() and not switch.is_checked()
    switch.focus()
    page.keyboard.press("Space")
    page.wait_for_function("document.documentElement.getAttribute('data-colours') === 'safe'", timeout=5_000)
    assert switch.is_checked()
    after = cell_fills()
    # every cell is redrawn in its own class's safe colour
    assert after == [usual[fill].safe_colour for fill in before]
    assert hottest_swatch() == _rgb(GI_CLASSES[0].safe_colour)
    page.screenshot(path=str(ARTIFACTS / f"map-safe-colours-{service['backend']}.png"))
    found = serious_violations(page, exclude=(".leaflet-overlay-pane",))  # the cells are pictures, not text
    assert found == [], found

    # kept: a reload draws in the safe colours from the start, the switch on
    page.reload()
    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    assert page.get_by_role("checkbox", name="Colour-blind-safe colours").is_checked()
    assert set(cell_fills()) <= set(safe) and cell_fills() == after
    assert hottest_swatch() == _rgb(GI_CLASSES[0].safe_colour)
    # the LISA layer and its legend too
    page.locator(".leaflet-control-layers label", has_text="Clusters and outliers (LISA)").click()
    page.wait_for_selector("path.hotspots-secondStyle", state="attached")
    assert set(cell_fills("path.hotspots-secondStyle")) <= {c.safe_colour for c in LISA_CLASSES}
    lisa_swatches = page.eval_on_selector_all(".hotspots-legend [data-scheme='1'] .swatch",
                                              "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert lisa_swatches == [_rgb(c.safe_colour) for c in LISA_CLASSES]

    # the print sheet follows the choice (its link carries ?colours=safe)
    printing = page.locator(".hotspots-links a", has_text="Print / save as PDF")
    assert printing.get_attribute("href") == f"/print/analyses/{service['run_id']}?colours=safe"
    printing.click()
    page.wait_for_selector("body[data-map-ready]", state="attached", timeout=10_000)
    assert page.get_by_role("checkbox", name="Colour-blind-safe colours").is_checked()
    # the sheet's filled paths: its cells, and the towns' white dots
    sheet = set(page.eval_on_selector_all("#print-map path[fill]", "els => els.map(e => e.getAttribute('fill'))"))
    assert sheet - {"none", "#fff"} and sheet - {"none", "#fff"} <= set(safe) - {GI_CLASSES[3].safe_colour}
    sheet_swatches = page.eval_on_selector_all(".legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert sheet_swatches == [_rgb(c.safe_colour) for c in GI_CLASSES if c.value != 0]

    # and back: switched off on the sheet, the map page shows the usual colours again
    page.get_by_role("checkbox", name="Colour-blind-safe colours").uncheck()
    page.goto(service["origin"] + target)
    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    assert not page.get_by_role("checkbox", name="Colour-blind-safe colours").is_checked()
    assert cell_fills() == before and hottest_swatch() == _rgb(GI_CLASSES[0].colour)
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()


def test_emerging_map_steps_through_time_and_its_legend_matches_the_colours(service, browser):
    """The time slider redraws the per-step layer at another step; every colour drawn is in the legend."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/maps/analyses/{service['emerging_run_id']}"
    sign_in_through_page(page, service["origin"], service["token"], target)
    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    assert page.locator("path.hotspots-firstStyle").count() == service["emerging_cells"]
    legend = page.locator(".hotspots-legend")
    assert "Emerging hot and cold spots" in legend.inner_text() and "No pattern detected" in legend.inner_text()
    # its cells download like any run's; there is no print sheet for this kind yet, so no link to one
    assert page.locator(".hotspots-links a[download]").count() == 5
    assert page.locator(".hotspots-links a", has_text="Print").count() == 0
    legend_colours = set(page.eval_on_selector_all(
        ".hotspots-legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)"))

    def fills(selector: str) -> list[str]:
        return page.eval_on_selector_all(selector, """els => els.map(e => {
            const probe = document.createElement('span'); probe.style.color = e.getAttribute('fill');
            document.body.appendChild(probe); const c = getComputedStyle(probe).color; probe.remove(); return c; })""")

    assert set(fills("path.hotspots-firstStyle")) <= legend_colours
    slider = page.locator("#hotspots-step")
    assert slider.get_attribute("max") == "11" and page.locator("#hotspots-step-label").inner_text() == "2025-12"
    slider.fill("0")  # the first month: the per-step layer replaces the pattern layer
    page.wait_for_selector("path.hotspots-secondStyle", state="attached")
    assert page.locator("#hotspots-step-label").inner_text() == "2025-01"
    assert page.locator(".hotspots-slider").get_attribute("data-step") == "0"
    first_month = fills("path.hotspots-secondStyle")
    assert len(first_month) == service["emerging_cells"] and set(first_month) <= legend_colours
    slider.fill("6")
    assert page.locator("#hotspots-step-label").inner_text() == "2025-07"
    seventh_month = fills("path.hotspots-secondStyle")
    assert set(seventh_month) <= legend_colours
    # The colours drawn are each cell's class in the step shown, as the API lists the cells' series.
    cells = page.request.get(f"{service['origin']}/api/v1/analyses/{service['emerging_run_id']}/cells",
                             params={"limit": 5000}).json()["features"]
    colour = {str(c.value): _rgb(c.colour) for c in GI_CLASSES}
    for step, drawn in ((0, first_month), (6, seventh_month)):
        expected = Counter(colour[f["properties"]["step_classes"].split(",")[step]] for f in cells)
        assert Counter(drawn) == expected, step
    page.locator("path.hotspots-secondStyle").nth(service["emerging_cells"] // 2).hover(force=True)
    page.wait_for_selector(f"{CELL_TIP} svg.hotspots-spark rect", timeout=5_000)
    tooltip = page.locator(CELL_TIP)
    assert "(2025-07)" in tooltip.inner_text() and tooltip.locator("svg.hotspots-spark rect").count() == 12
    page.screenshot(path=str(ARTIFACTS / f"map-emerging-{service['backend']}.png"))
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()


def test_rates_map_and_the_community_pages_rates_in_the_browser(service, browser):
    """Communities coloured by smoothed rate, then by crime rate x the (SYNTHETIC) indicator; a community's rates."""
    from app.services.rates_page import BIVARIATE, RATE_COLOURS
    from spatial.rates.bivariate import ASSOCIATION_NOT_CAUSE

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/analyses/{service['run_id']}/rates"
    sign_in_through_page(page, service["origin"], service["token"], target)
    page.wait_for_selector("#rates-map path.leaflet-interactive", state="attached", timeout=10_000)
    paths = page.locator("#rates-map path.leaflet-interactive")
    assert paths.count() == int(page.locator("#rates-map").get_attribute("data-features")) == 14
    fills = {paths.nth(i).get_attribute("fill") for i in range(paths.count())}
    assert fills <= set(RATE_COLOURS) and len(fills) == 5
    assert page.locator(".legend .legend-row").count() == 6
    assert "SYNTHETIC" in page.locator("main").inner_text()  # the demo's populations are made up, and say so
    paths.first.hover(force=True)
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    assert "Smoothed rate" in page.locator(".leaflet-tooltip").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"rates-{service['backend']}.png"))

    page.select_option("#indicator", "young people share")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("table.bivariate-legend", timeout=10_000)
    page.wait_for_selector("#rates-map path.leaflet-interactive", state="attached")
    paths = page.locator("#rates-map path.leaflet-interactive")
    bivariate = {c for row in BIVARIATE for c in row}
    assert {paths.nth(i).get_attribute("fill") for i in range(paths.count())} <= bivariate
    assert page.locator("table.bivariate-legend td.cell").count() == 9
    assert page.locator(".association").inner_text().strip() == ASSOCIATION_NOT_CAUSE
    assert page.locator("table.bivariate-table tr").count() == 15
    page.screenshot(path=str(ARTIFACTS / f"rates-bivariate-{service['backend']}.png"), full_page=True)

    page.goto(f"{service['origin']}/communities/{_first_community(page, service)}")
    card = page.locator(".card.rates")
    assert card.is_visible() and card.locator(".smoothed-rate").inner_text().strip() not in ("", "–")
    assert card.locator(".population").inner_text().strip() not in ("", "–")
    card.locator("a.rates-map").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(target)
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()


def _first_community(page, service) -> int:
    """A community id from the rates table's links (the page lists every community of the run)."""
    page.goto(f"{service['origin']}/analyses/{service['run_id']}/rates")
    href = page.locator("table.rates-table a").first.get_attribute("href")
    return int(href.rsplit("/", 1)[1])


def test_api_documentation_draws_offline(service, browser):
    """/docs (Swagger UI) and /redoc draw every operation from assets the service serves itself."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    page.goto(f"{service['origin']}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Hotspots" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 20
    page.goto(f"{service['origin']}/redoc")
    page.wait_for_selector("[data-section-id^='tag']", state="attached", timeout=20_000)
    assert "Hotspots" in page.locator("h1").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"redoc-{service['backend']}.png"))
    assert watch.outside == [], "the documentation must load nothing from outside the service"
    assert watch.failed == [] and watch.page_errors == [] and watch.console_errors == []
    context.close()


def test_home_and_community_pages_in_the_browser(service, browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    sign_in_through_page(page, service["origin"], service["token"], "/")
    assert page.locator(f"a[href='/maps/analyses/{service['run_id']}']").count() == 1
    page.get_by_role("link", name="Saint George Basseterre").click()
    page.wait_for_load_state("load")
    assert page.locator("svg.trend rect").count() >= 12
    assert "of" in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"community-{service['backend']}.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert "/sign-in" in page.url and context.cookies() == []
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()


def test_ogc_pages_in_the_browser(service, browser):
    """OGC API – Features as a browser sees it: HTML by its Accept header, a run's cells as a table with a
    Leaflet map of the page and next links, under the same Content-Security-Policy, nothing from outside."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    sign_in_through_page(page, service["origin"], service["token"], "/ogc/collections")
    assert "/ogc/collections" in page.url and page.locator("table.collections").count() == 1
    run = f"run-{service['run_id']}"
    page.locator("table.collections tr", has_text=run).get_by_role("link", name="Browse").click()
    page.wait_for_load_state("load")
    rows = page.locator("table.features tbody tr")
    assert rows.count() == 100 and "features match" in page.locator("p.counts").inner_text()
    page.wait_for_selector("#map path.leaflet-interactive", state="attached", timeout=10_000)
    assert page.locator("#map path.leaflet-interactive").count() == 100
    fills = page.eval_on_selector_all("#map path.leaflet-interactive", "paths => paths.map(p => p.getAttribute('fill'))")
    classes = [int(v) for v in page.eval_on_selector_all(  # the gi_bin column of the table, row by row
        "table.features tbody tr", "rows => rows.map(r => r.cells[[...r.closest('table').tHead.rows[0].cells]"
        ".findIndex(c => c.textContent === 'gi_bin')].textContent)")]
    colour = {c.value: c.colour for c in GI_CLASSES}
    assert fills == [colour[v] for v in classes]  # each cell in its class's colour, as on the run's map
    first = rows.first.locator("td").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"ogc-items-{service['backend']}.png"), full_page=False)
    page.locator("a[rel=next]").first.click()
    page.wait_for_load_state("load")
    assert "cursor=" in page.url and page.locator("table.features tbody tr").first.locator("td").first.inner_text() != first
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()


@pytest.mark.parametrize("backend", ["postgis", "sqlite"])
def test_68k_cell_run_map_is_small_and_loads_within_3_s(browser, tmp_path, backend):
    """bench/map_page.py's measurement as a test: ~68,000 resolution-10 cells draw from vector tiles
    (on SQLite, tiles encoded in Python)."""
    from bench.map_page import TARGET_HTML_MB, TARGET_LOAD_S, has_tile_route, load, measure

    with backend_database(backend, f"hotspots_browser_large_{os.getpid()}", tmp_path) as url:
        loaded = load(url, 30_000, tmp_path)
        assert loaded["cells"] > 60_000
        with live_service(url, tmp_path / "static") as origin:
            figures = measure(browser, origin, loaded, has_tile_route(origin, loaded["token"], loaded["run_id"]),
                              ARTIFACTS / f"map-68k-{backend}.png")
    print(f"\n68k-cell map on {backend}: {figures['html_bytes']:,} bytes of HTML, load {figures['load_s']} s, "
          f"first tiles {figures['first_tiles_s']} s; inlined it would be {loaded['inline_html_bytes']:,} bytes")
    assert figures["html_bytes"] < TARGET_HTML_MB * 1e6
    assert figures["load_s"] < TARGET_LOAD_S
    assert figures["console_errors"] == [] and figures["page_errors"] == []
    assert figures["failed_requests"] == [] and figures["outside_requests"] == []


# --- the planner's tools: downloads, print, phone, compare ------------------------------------------


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _printed_pages(page, tmp_path, paper: str) -> list:
    """Print the page to PDF on ``paper`` (A4 or Letter) and turn each page into a PNG at 30 dpi."""
    pdf = tmp_path / f"sheet-{paper}.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), format=paper, print_background=True)
    stem = tmp_path / f"page-{paper}"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(stem)], check=True)
    return sorted(tmp_path.glob(f"page-{paper}*.png"))


def _ink(path) -> float:
    """Share of a page's pixels that are not white (pdftoppm's grey PGM: no image library needed)."""
    pgm = path.with_suffix(".pgm")
    subprocess.run(["pdftoppm", "-r", "20", "-gray", "-singlefile", "-f", "1", "-l", "1",
                    str(path), str(pgm.with_suffix(""))], check=True)
    data = pgm.read_bytes()
    pixels = data[data.index(b"255\n") + 4:]
    return sum(1 for b in pixels if b < 200) / len(pixels)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_download_buttons_print_sheets_and_phone_legend(service, browser, tmp_path):
    """Every download button of the map page gives its file with the run's cells; the print views of a run
    and a community fit A4 and Letter; the legend follows the layer shown and folds on a phone."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/maps/analyses/{service['run_id']}"
    sign_in_through_page(page, service["origin"], service["token"], target)
    page.wait_for_selector("path.hotspots-firstStyle", state="attached", timeout=10_000)
    # names on the map: the communities and the gazetteer's towns
    assert page.locator(".hotspots-label").count() >= 10
    assert "Basseterre" in page.locator(".hotspots-place-label").all_inner_texts()
    page.wait_for_timeout(200)

    def names_shown() -> list:
        return page.eval_on_selector_all(".hotspots-label, .hotspots-place-label", """els => els
            .filter(e => getComputedStyle(e).visibility !== 'hidden')
            .map(e => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")

    def readable(shown: list) -> None:  # no two names on top of each other, none cut by the map's edge
        for i, (name, *a) in enumerate(shown):
            assert 0 <= a[0] and a[2] <= 1280 and 0 <= a[1] and a[3] <= 860, name
            for other, *b in shown[i + 1:]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (name, other)

    island_wide = names_shown()
    assert any(name == "Basseterre" for name, *_ in island_wide), "the capital's name should be shown"
    readable(island_wide)
    page.mouse.move(640, 430)
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(800)
    readable(names_shown())
    # the legend shows the layer on the map, one layer at a time
    gi, lisa = (page.locator(f".hotspots-legend [data-scheme='{i}']") for i in (0, 1))
    assert gi.is_visible() and not lisa.is_visible()
    page.locator(".leaflet-control-layers label", has_text="Clusters and outliers (LISA)").click()
    page.wait_for_selector("path.hotspots-secondStyle", state="attached")
    page.wait_for_function("!document.querySelector(\".hotspots-legend [data-scheme='1']\").hidden")
    assert lisa.is_visible() and not gi.is_visible() and page.locator("path.hotspots-firstStyle").count() == 0

    files = {}
    for link in page.locator(".hotspots-links a[download]").all():
        with page.expect_download() as info:
            link.click()
        files[link.inner_text()] = Path(info.value.path())
    assert set(files) == {"CSV", "GeoJSON", "GeoPackage", "Shapefile", "KML"}
    cells = service["cells"]
    rows = list(csv.DictReader(io.StringIO(files["CSV"].read_text(encoding="utf-8"))))
    assert len(rows) == cells and {"cell", "gi_bin", "incidents", "centre_lat"} <= set(rows[0])
    assert len(json.loads(files["GeoJSON"].read_text())["features"]) == min(cells, 10_000)
    with sqlite3.connect(files["GeoPackage"]) as gpkg:
        (layer,) = gpkg.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'").fetchone()
        assert gpkg.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0] == cells
        assert "provenance" in {r[0] for r in gpkg.execute("SELECT topic FROM readme")}
    with zipfile.ZipFile(files["Shapefile"]) as shapefile:
        assert {Path(n).suffix for n in shapefile.namelist()} >= {".shp", ".shx", ".dbf", ".prj", ".txt"}
    assert files["KML"].read_text(encoding="utf-8").count("<Placemark") == cells

    for sheet in (f"/print/analyses/{service['run_id']}", "/print/communities/{community}"):
        if "{community}" in sheet:
            page.goto(f"{service['origin']}/")
            page.get_by_role("link", name="Saint George Basseterre").click()
            page.wait_for_load_state("load")
            page.get_by_role("link", name="Print / save as PDF").click()
        else:
            page.goto(service["origin"] + sheet)
        page.wait_for_selector("body[data-map-ready]", state="attached", timeout=10_000)
        assert page.locator("#print-map path.leaflet-interactive, #print-map path").count() > 10
        for paper, (width_in, height_in) in (("A4", (8.27, 11.69)), ("Letter", (8.5, 11.0))):
            pngs = _printed_pages(page, _fresh(tmp_path, sheet, paper), paper)
            assert 1 <= len(pngs) <= 2, f"{sheet} printed on {len(pngs)} {paper} pages"
            for png in pngs:
                width, height = _png_size(png)
                assert abs(width - width_in * 30) <= 2 and abs(height - height_in * 30) <= 2, (paper, width, height)
            assert _ink(pngs[0].parent / f"sheet-{paper}.pdf") > 0.03, "the first page should carry the map"
        page.emulate_media(media="screen")
        page.screenshot(path=str(ARTIFACTS / f"print-{sheet.split('/')[2]}-{service['backend']}.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.context.add_cookies(context.cookies())
    small.goto(service["origin"] + target)
    small.wait_for_selector(".hotspots-legend details", state="attached", timeout=10_000)
    small.wait_for_function("!document.querySelector('.hotspots-legend details').open", timeout=5_000)
    box = small.locator(".hotspots-legend").bounding_box()
    assert box["height"] * box["width"] < 0.1 * 390 * 844, "a folded legend should take little of a phone screen"
    layers = small.locator(".leaflet-control-layers").bounding_box()
    assert layers["width"] * layers["height"] < 0.02 * 390 * 844, "the layer list should be folded to its button"
    small.locator(".leaflet-control-layers-toggle").click()
    assert small.locator(".leaflet-control-layers label", has_text="Towns and villages").is_visible()
    small.locator(".hotspots-legend summary").click()
    assert small.locator(".hotspots-legend [data-scheme='0']").is_visible()
    small.screenshot(path=str(ARTIFACTS / f"map-phone-{service['backend']}.png"))
    phone.close()
    assert watch.console_errors == [] and watch.page_errors == [] and watch.outside == []
    context.close()


def _fresh(tmp_path: Path, sheet: str, paper: str) -> Path:
    folder = tmp_path / f"{sheet.strip('/').replace('/', '-').replace('{', '').replace('}', '')}-{paper}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_compare_page_moves_its_maps_together(service, browser):
    """Two runs side by side: zooming or dragging one map moves the others to the same view."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    sign_in_through_page(page, service["origin"], service["token"], "/")
    origin, token = service["origin"], {"Authorization": f"Bearer {service['token']}"}
    submitted = page.request.post(f"{origin}/api/v1/analyses", headers=token, data={
        "resolution": 9, "permutations": 99, "seed": 5, "start": "2025-07-01", "end": "2026-01-01"}).json()
    deadline = time.monotonic() + 120
    while page.request.get(submitted["url"], headers=token).json()["status"] != "completed":
        assert time.monotonic() < deadline, "the second run did not complete"
        time.sleep(0.5)
    page.goto(f"{origin}/compare?a={service['run_id']}&b={submitted['id']}")
    page.wait_for_selector("body[data-maps-ready]", state="attached")
    counts = {row: int(page.locator(f"tr.change-{row} td.num").inner_text()) for row in
              ("became_hot", "stayed_hot", "stopped_hot")}
    api = page.request.get(f"{origin}/api/v1/compare?a={service['run_id']}&b={submitted['id']}").json()
    assert counts == api["counts"]
    assert page.locator("#map-change path.leaflet-interactive").count() == sum(counts.values())
    # each map names its communities and towns, none on top of another or cut by the map's edge
    for map_id in ("map-a", "map-b", "map-change"):
        shown = page.eval_on_selector_all(f"#{map_id} .leaflet-tooltip.label", """els => els
            .filter(e => getComputedStyle(e).visibility !== 'hidden')
            .map(e => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")
        frame = page.locator(f"#{map_id}").bounding_box()
        assert len(shown) >= 3, (map_id, shown)
        for i, (name, *box) in enumerate(shown):
            assert frame["x"] <= box[0] and box[2] <= frame["x"] + frame["width"] + 0.5, (map_id, name)
            for other, *b in shown[i + 1:]:
                assert not (box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]), (map_id, name, other)
    assert page.locator("#map-a .leaflet-tooltip.place").count() >= 1

    def views() -> list[str]:
        return [page.get_attribute(f"#{m}", "data-view") for m in ("map-a", "map-b", "map-change")]

    before = views()
    assert len(set(before)) == 1
    page.locator("#map-a .leaflet-control-zoom-in").click()
    page.wait_for_function("() => { const v = ['map-a', 'map-b', 'map-change'].map(id => "
                           "document.getElementById(id).getAttribute('data-view')); "
                           f"return v[0] !== {json.dumps(before[0])} && v.every(x => x === v[0]); }}", timeout=5_000)
    page.locator("#map-change").scroll_into_view_if_needed()
    box = page.locator("#map-change").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 40, steps=8)
    page.mouse.up()
    page.wait_for_timeout(400)
    after = views()
    assert len(set(after)) == 1 and after[0].split(",")[:2] != before[0].split(",")[:2]
    page.screenshot(path=str(ARTIFACTS / f"compare-{service['backend']}.png"), full_page=True)
    # The compare maps follow the colour-blind-safe choice made on a map page (kept in this browser).
    page.goto(f"{origin}/maps/analyses/{service['run_id']}")
    page.get_by_role("checkbox", name="Colour-blind-safe colours").check()
    page.goto(f"{origin}/compare?a={service['run_id']}&b={submitted['id']}")
    page.wait_for_selector("body[data-maps-ready]", state="attached")
    assert page.get_by_role("checkbox", name="Colour-blind-safe colours").is_checked()
    drawn = set(page.eval_on_selector_all("#map-a path.leaflet-interactive, #map-b path.leaflet-interactive",
                                          "els => els.map(e => e.getAttribute('fill'))"))
    significant = [c for c in GI_CLASSES if c.value != 0]
    assert drawn and drawn <= {c.safe_colour for c in significant}
    assert page.eval_on_selector_all(".legend .swatch[data-colour-safe]", "els => els.map(e => "
                                     "getComputedStyle(e).backgroundColor)") == [_rgb(c.safe_colour) for c in significant]
    # axe-core: no serious problem on the compare page (the hexagons, SVG paths without text, left out)
    assert serious_violations(page, exclude=(".leaflet-overlay-pane",)) == []
    assert watch.console_errors == [] and watch.page_errors == [] and watch.failed == [] and watch.outside == []
    context.close()
