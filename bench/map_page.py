"""Map page benchmark: a ~68,000-cell run's map in headless Chromium.

Builds a throwaway database with 4 x 4 synthetic square communities over ~800 km²
(St Kitts, Nevis and the sea between), SYNTHETIC incidents and one H3
resolution-10 run (permutations 0: the map, not the statistics, is measured),
starts the service under uvicorn on 127.0.0.1, signs in through the page and
opens the run's map. Prints the page's HTML size, the time to the load event
and to the first drawn tiles, and what the page would weigh with its cells
inlined instead of drawn from vector tiles. Targets: load within 3 s, HTML under 5 MB.
Without a /tiles route in this build, tile requests are answered 204 (empty) by
the browser harness and that is said in the results.

    .venv/bin/python bench/map_page.py [--incidents 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ADMIN_URL, write_result  # noqa: E402
from tests.browser_support import PageWatch, browser_missing, chromium, live_service, scratch_database  # noqa: E402

SOUTH, NORTH, WEST, EAST = 17.13, 17.405, -62.83, -62.58
SEED = 20261124
TARGET_LOAD_S, TARGET_HTML_MB = 3.0, 5.0


def zones(path: Path) -> Path:
    features = []
    for r in range(4):
        for c in range(4):
            s, n = SOUTH + (NORTH - SOUTH) * r / 4, SOUTH + (NORTH - SOUTH) * (r + 1) / 4
            w, e = WEST + (EAST - WEST) * c / 4, WEST + (EAST - WEST) * (c + 1) / 4
            features.append({"type": "Feature", "properties": {"name": f"Zone {r * 4 + c + 1:02d}"},
                             "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def load(url: str, incidents: int, folder: Path) -> dict:
    from app.db import make_engine, make_sessionmaker
    from app.services import analyses, run_results
    from app.services.accounts import create_user_with_token
    from app.services.boundaries import BoundaryOptions, upload_boundary_set
    from app.services.incident_import import import_incidents
    from app.services.maps import build_map_html
    from app.settings import Settings
    from spatial.incidents_io import ReadOptions
    from spatial.synthetic import write_synthetic_csv

    settings = Settings(database_url=url, statement_timeout_ms=0)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            boundaries = zones(folder / "zones.geojson")
            upload_boundary_set(session, boundaries, original_name=boundaries.name,
                                options=BoundaryOptions(name="bench zones", activate=True),
                                service_area=None, max_bytes=settings.max_upload_bytes)
            session.commit()
            csv_path = write_synthetic_csv(folder / "incidents.csv", incidents, SEED, background_share=0.5)
            import_incidents(session, csv_path, filename="SYNTHETIC bench incidents", source="bench",
                             options=ReadOptions(timezone=settings.zone))
            session.commit()
            run_id = analyses.submit(session, analyses.AnalysisRequest(resolution=10, permutations=0, seed=SEED),
                                     settings=settings, user_id=None)
            analyses.execute(session, run_id)
            run = run_results.visible_run(session, run_id)
            assert run.status == "completed", run
            inlined = build_map_html(session, settings.model_copy(update={"map_inline_max_cells": 10**9}), run)
            token = create_user_with_token(session, "bench-analyst", "analyst")
            return {"run_id": run_id, "cells": run.provenance.cells, "token": token,
                    "inline_html_bytes": len(inlined.encode("utf-8"))}
    finally:
        engine.dispose()


def has_tile_route(origin: str, token: str, run_id: int) -> bool:
    request = urllib.request.Request(f"{origin}/tiles/hotspots/0/0/0.mvt?run={run_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        return not (error.code == 404 and '"Not Found"' in body)


def measure(browser, origin: str, loaded: dict, tiles_served: bool, screenshot: Path) -> dict:
    """Sign in, open the map twice (the first visit builds it) and time the second visit."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    if not tiles_served:
        page.route("**/tiles/**", lambda route: route.fulfill(status=204, body=b""))
    page.goto(f"{origin}/sign-in")
    page.fill("input[name=token]", loaded["token"])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    watch = PageWatch(origin).attach(page)
    url = f"{origin}/maps/analyses/{loaded['run_id']}"
    started = time.perf_counter()
    page.goto(url, wait_until="load")  # the first visit builds and saves the page
    first_visit_s = time.perf_counter() - started
    page.wait_for_load_state("networkidle")  # leaving with tiles in flight would cancel them
    started = time.perf_counter()
    response = page.goto(url, wait_until="load")
    load_s = time.perf_counter() - started
    page.wait_for_selector(".leaflet-tile-container canvas", state="attached", timeout=10_000)
    drawn_s = time.perf_counter() - started
    html_bytes = len(response.body())
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot))
    context.close()
    return {"first_visit_s": round(first_visit_s, 3), "load_s": round(load_s, 3), "first_tiles_s": round(drawn_s, 3), "html_bytes": html_bytes,
            "console_errors": watch.console_errors, "page_errors": watch.page_errors,
            "failed_requests": watch.failed, "outside_requests": watch.outside}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    args = parser.parse_args()
    if (reason := browser_missing()) is not None:
        sys.exit(reason)
    with tempfile.TemporaryDirectory(prefix="hotspots-map-bench-") as folder, \
            scratch_database(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), "hotspots_bench_map") as url:
        loaded = load(url, args.incidents, Path(folder))
        with live_service(url, Path(folder) / "static") as origin:
            tiles_served = has_tile_route(origin, loaded["token"], loaded["run_id"])
            with chromium() as browser:
                figures = measure(browser, origin, loaded, tiles_served, Path("tests/artifacts/map-68k.png"))
    figures.update(cells=loaded["cells"], inline_html_bytes=loaded["inline_html_bytes"],
                   tiles_served_by_service=tiles_served,
                   targets={"load_s": TARGET_LOAD_S, "html_mb": TARGET_HTML_MB})
    print(f"cells:                  {loaded['cells']:,} (resolution 10)")
    print(f"map HTML:               {figures['html_bytes'] / 1e6:.3f} MB (target < {TARGET_HTML_MB} MB)")
    print(f"  with cells inlined:   {figures['inline_html_bytes'] / 1e6:.1f} MB (why large runs use tiles)")
    print(f"first visit (builds):   {figures['first_visit_s']:.3f} s")
    print(f"load event:             {figures['load_s']:.3f} s (target < {TARGET_LOAD_S} s, saved page)")
    print(f"first tiles drawn:      {figures['first_tiles_s']:.3f} s"
          + ("" if tiles_served else "  (no /tiles route in this build: tiles answered 204 by the harness)"))
    print(f"console errors / failed / outside requests: {len(figures['console_errors'])} / "
          f"{len(figures['failed_requests'])} / {len(figures['outside_requests'])}")
    print(f"results: {write_result('map_page', figures)}")
    ok = figures["load_s"] < TARGET_LOAD_S and figures["html_bytes"] < TARGET_HTML_MB * 1e6
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
