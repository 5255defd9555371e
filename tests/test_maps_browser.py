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

import os
from collections import Counter

import pytest

from spatial.kinds.hotspot import GI_CLASSES

from tests.browser_support import ROOT, PageWatch, backend_database, browser_missing, chromium, live_service, \
    load_kna_run

missing = browser_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")
ARTIFACTS = ROOT / "tests" / "artifacts"


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
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    assert "Incidents" in page.locator(".leaflet-tooltip").inner_text()
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
    page.wait_for_selector(".leaflet-tooltip svg.hotspots-spark rect", timeout=5_000)
    tooltip = page.locator(".leaflet-tooltip")
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
