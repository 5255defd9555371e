"""The intervention page in a real browser (Debian's Chromium through Playwright) against the real service on PostGIS.

A database of its own holds the KNA parishes, SYNTHETIC incidents (2025) and one shared intervention in
Saint George Basseterre, October to December 2025. An analyst opens the page (which evaluates it and keeps
the published copy), then a partner: both see the sentence, the before/after chart and the three areas
drawn on the map, nothing fails, and no request leaves 127.0.0.1.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from tests.browser_support import ROOT, PageWatch, browser_missing, chromium, live_service, scratch_database
from tests.conftest import TEST_DATABASE_URL
from tests.test_maps_browser import sign_in_through_page

missing = browser_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")
ARTIFACTS = ROOT / "tests" / "artifacts"


def _load(url: str) -> dict:
    from app.cli import SAMPLE_ATTRIBUTION, SAMPLE_BOUNDARIES
    from app.db import make_engine, make_sessionmaker
    from app.services import interventions
    from app.services.accounts import create_user_with_token
    from app.services.boundaries import BoundaryOptions, upload_boundary_set
    from app.services.incident_import import import_incidents
    from app.settings import Settings
    from app.store.backends import backend_for
    from spatial.incidents_io import ReadOptions
    from spatial.synthetic import write_synthetic_csv

    settings = Settings(database_url=url, statement_timeout_ms=0)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            store = backend_for(engine).bind(session)
            upload_boundary_set(store, SAMPLE_BOUNDARIES, original_name=SAMPLE_BOUNDARIES.name,
                                options=BoundaryOptions(name="KNA parishes", attribution=SAMPLE_ATTRIBUTION,
                                                        activate=True),
                                service_area=None, max_bytes=settings.max_upload_bytes)
            csv_path = ROOT / "tests" / "artifacts" / "synthetic-6000-2026.csv"
            write_synthetic_csv(csv_path, 6000, 2026)
            import_incidents(store, csv_path, filename="SYNTHETIC incidents", source="SYNTHETIC",
                             options=ReadOptions(timezone=settings.zone))
            basseterre = next(c["id"] for c in store.boundaries.list_active_communities()
                              if c["name"] == "Saint George Basseterre")
            shown = interventions.create_intervention(store, interventions.NewIntervention(
                name="Basseterre night patrols", partner="Test partner", starts_on=date(2025, 10, 1),
                ends_on=date(2025, 12, 31), target_communities=(basseterre,), shared=True), user_id=None)
            store.session.commit()
            return {"id": shown["id"], "analyst": create_user_with_token(store, "iv-browser-analyst", "analyst"),
                    "partner": create_user_with_token(store, "iv-browser-partner", "partner")}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> dict:
    with scratch_database(TEST_DATABASE_URL, f"hotspots_iv_browser_{os.getpid()}") as url:
        loaded = _load(url)
        with live_service(url, tmp_path_factory.mktemp("static")) as origin:
            yield {"origin": origin, **loaded}


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize("role", ["analyst", "partner"])  # the analyst's visit keeps what the partner sees
def test_intervention_page_shows_sentence_chart_and_areas_offline(service, browser, role):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    target = f"/interventions/{service['id']}"
    sign_in_through_page(page, service["origin"], service[role], target)
    assert page.url == service["origin"] + target
    page.wait_for_function("window.interventionMapReady === true", timeout=10_000)

    assert page.locator("h1").inner_text() == "Basseterre night patrols"
    sentence = page.locator(".evaluation .sentence").inner_text()
    assert "comparison area" in sentence and ("claimed" in sentence or "fell" in sentence or "rose" in sentence)
    bars = page.locator("svg.before-after rect")
    assert bars.count() >= 4  # before and after, in the target and the comparison area at least
    rows = page.locator("table.counts tr.target td").all_inner_texts()
    assert rows[0] == "Target area" and all(text.replace(",", "").isdigit() for text in rows[1:])
    # the three areas: the target's outline, the buffer ring, the comparison communities
    assert page.locator("#areas path.leaflet-interactive").count() >= 3
    assert not watch.page_errors and not watch.console_errors, watch.page_errors + watch.console_errors
    assert not watch.failed, watch.failed
    assert not watch.outside, watch.outside
    page.screenshot(path=str(ARTIFACTS / f"intervention-{role}.png"), full_page=True)
    listed = page.goto(f"{service['origin']}/interventions")
    assert listed is not None and listed.status == 200
    assert page.locator("table.interventions a").inner_text() == "Basseterre night patrols"
    context.close()


def test_a_missing_intervention_answers_a_page_in_words(service, browser):
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    watch = PageWatch(service["origin"]).attach(page)
    sign_in_through_page(page, service["origin"], service["partner"], "/interventions")
    for path, status, title, words in (("/interventions/999999", 404, "Not found", "There is no intervention 999999."),
                                       ("/interventions/abc", 422, "Some values cannot be used", "intervention_id")):
        response = page.goto(service["origin"] + path)
        assert response is not None and response.status == status
        assert response.headers["content-type"].startswith("text/html")
        assert page.locator("h1").inner_text() == title
        assert words in page.locator("p.error").inner_text()
    assert not watch.page_errors and not watch.outside, watch.page_errors + watch.outside
    context.close()
