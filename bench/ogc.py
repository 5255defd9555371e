"""Benchmark: OGC API – Features items of a 68,000-cell run, ours against tipg; and a GeoPackage export.

Run from the repository root with the project's virtualenv::

    .venv/bin/python bench/ogc.py [--duration 10] [--first-page-duration 5] [--connections 8] [--tipg-venv /tmp/tipg-venv]

Setup: the run of bench/tiles.py (a fresh database ``hotspots_bench_ogc``, one community of ~1,000 km²
covered by ~68,000 resolution-10 cells in one completed run; an analyst token) and a view of the same
cells with the same columns our police-tier items carry, for tipg. Servers, each one uvicorn worker on
127.0.0.1:

- ``ours``: ``/ogc/collections/run-{id}/items?limit=1000`` and the cursors of its ``next`` links
  (token check, run lookup, count for ``numberMatched``, a keyset page in cell order);
- ``tipg``: ``/collections/public.tipg_ogc_cells/items?limit=1000&offset=…`` (tipg pages by offset, and
  counts for ``numberMatched`` too);
- ``tipg_6``: the same on a view whose outlines are snapped to 1e-6°, so that its pages are about the
  size of ours.

Load: wrk, 8 connections, cycling through every page of the run (69 pages of 1,000) for a fixed time;
then the first page only (no cursor; tipg's offset 0) for a shorter time, which takes tipg's offset
paging out of the comparison. The two servers' pages are not the same bytes: ours round coordinates to
6 decimals (~0.1 m), tipg's do not, so a tipg page is larger (``tipg_6`` measures the gap); besides
pages/s each server's figures give
its mean page size over the whole walk, features/s and bytes/s (from the pages and from wrk's
Transfer/sec), and the ratios are given for pages, features and bytes.
Target: ours >= 2x tipg's throughput (pages/s). Then a small bbox (~1 km²) on the same run, ours, to show the
store's spatial filter, and the GeoPackage export of the 68,000 cells through the service
(``/api/v1/analyses/{id}/cells?format=gpkg``: read from PostGIS, written, streamed) against a bare
``pyogrio.write_dataframe`` of the same frame (already in memory): target <= 1.3x. Prints the figures and
writes ``bench/results/ogc.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fresh_database, write_result  # noqa: E402
from bench.tiles import HOST, build_run, migrate_here, run_wrk, server, uvicorn_argv  # noqa: E402

DB_NAME = "hotspots_bench_ogc"
PORTS = {"ours": 18111, "tipg": 18112, "tipg_6": 18113}
TIPG_VIEWS = {"tipg": "tipg_ogc_cells", "tipg_6": "tipg_ogc_cells_6"}
PAGE = 1000
BOX = (-90.30, 38.60, -90.29, 38.61)  # ~1 km² inside the St Louis box


def tipg_view(url: str, run_id: int) -> None:
    """The run's cells for tipg, with the columns and values our police-tier items carry; and the same with
    the outlines snapped to 1e-6° (``tipg_ogc_cells_6``), so that tipg writes about the bytes we write."""
    from sqlalchemy import create_engine, text

    from spatial.kinds import kind_named

    fields = ", ".join(f"h.{f.name}" for f in kind_named("hotspot").fields)
    engine = create_engine(url)
    with engine.begin() as connection:
        for view, geometry in (("tipg_ogc_cells", "h.geom"), ("tipg_ogc_cells_6", "ST_SnapToGrid(h.geom, 1e-6)")):
            connection.execute(text(
                f"CREATE VIEW {view} AS SELECT to_hex(h.cell) AS id, h.community_id, c.name AS community, "
                f"h.incidents, {fields}, {geometry} AS geom FROM hotspot_cells h "
                f"JOIN communities c ON c.id = h.community_id WHERE h.run_id = {int(run_id)}"))
    engine.dispose()


def get(url: str, token: str | None = None) -> tuple[bytes, float]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    clock = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    return body, time.perf_counter() - clock


def our_pages(base: str, run_id: int, token: str) -> tuple[list[str], int, int]:
    """Every page's path, following next links; the features and the body bytes read."""
    paths, seen, size = [], 0, 0
    url: str | None = f"{base}/ogc/collections/run-{run_id}/items?limit={PAGE}"
    while url:
        parts = urlsplit(url)
        paths.append(f"{parts.path}?{parts.query}")
        raw = get(url, token)[0]
        body = json.loads(raw)
        seen, size = seen + body["numberReturned"], size + len(raw)
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return paths, seen, size


def tipg_pages(base: str, cells: int, view: str) -> tuple[list[str], int, int]:
    """Every page's path (by offset); the features and the body bytes read."""
    paths = [f"/collections/public.{view}/items?limit={PAGE}&offset={offset}"
             for offset in range(0, cells, PAGE)]
    bodies = [get(base + path)[0] for path in paths]
    return paths, sum(json.loads(raw)["numberReturned"] for raw in bodies), sum(map(len, bodies))


def load_figures(load: dict, pages: int, features: int, size: int) -> dict:
    """wrk's figures with what a page holds on average over the walk: features/s and body bytes/s."""
    return {**load, "mean_page_bytes": round(size / pages), "features_per_page": round(features / pages, 1),
            "features_per_s": round(load["requests_per_s"] * features / pages),
            "body_bytes_per_s": round(load["requests_per_s"] * size / pages)}


def ratios(ours: dict, tipg: dict) -> dict:
    """Ours over tipg in pages/s, features/s and bytes/s (each None when either server has no figure)."""
    keys = {"pages": "requests_per_s", "features": "features_per_s", "body_bytes": "body_bytes_per_s",
            "wrk_transfer_bytes": "transfer_bytes_per_s"}
    return {name: round(ours[key] / tipg[key], 2) if ours.get(key) and tipg.get(key) else None
            for name, key in keys.items()}


def bbox_figures(base: str, run_id: int, token: str, repeat: int = 30) -> dict:
    url = f"{base}/ogc/collections/run-{run_id}/items?limit={PAGE}&bbox={','.join(map(str, BOX))}"
    body = json.loads(get(url, token)[0])
    times = sorted(get(url, token)[1] for _ in range(repeat))
    return {"bbox": BOX, "matched": body["numberMatched"], "returned": body["numberReturned"],
            "median_ms": round(times[len(times) // 2] * 1000, 2), "max_ms": round(times[-1] * 1000, 2)}


def export_figures(base: str, url: str, run_id: int, token: str, workdir: Path, repeat: int = 3) -> dict:
    """The service's GeoPackage download against a bare write_dataframe of the same frame (best of ``repeat``)."""
    import geopandas
    import pyogrio

    served = []
    for i in range(repeat):
        body, seconds = get(f"{base}/api/v1/analyses/{run_id}/cells?format=gpkg", token)
        (workdir / f"served-{i}.gpkg").write_bytes(body)
        served.append(seconds)
    frame = pyogrio.read_dataframe(workdir / "served-0.gpkg", layer=f"hotspot-run-{run_id}-cells")
    assert isinstance(frame, geopandas.GeoDataFrame)
    bare = []
    for i in range(repeat):
        target = workdir / f"bare-{i}.gpkg"
        clock = time.perf_counter()
        pyogrio.write_dataframe(frame, target, layer="cells", driver="GPKG")
        bare.append(time.perf_counter() - clock)
    return {"cells": len(frame), "service_s": round(min(served), 3), "bare_write_dataframe_s": round(min(bare), 3),
            "ratio": round(min(served) / min(bare), 3), "all_service_s": [round(s, 3) for s in served],
            "all_bare_s": [round(s, 3) for s in bare], "served_bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server, every page")
    parser.add_argument("--first-page-duration", type=int, default=5, help="seconds of load per server, first page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tipg-venv", default="/tmp/tipg-venv")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    url = fresh_database(DB_NAME)
    migrate_here(url)
    run_id, token, cells = build_run(url)
    tipg_view(url, run_id)
    print(f"run {run_id}: {cells:,} resolution-10 cells")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    tipg_python = str(Path(args.tipg_venv) / "bin" / "python")
    results: dict = {"setup": {"cells": cells, "resolution": 10, "page": PAGE, "connections": args.connections,
                               "duration_s": args.duration, "load_generator": "wrk 1 thread",
                               "uvicorn_workers": 1, "tier": "analyst (every police column)"}, "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ours = (uvicorn_argv(sys.executable, "app.main:create_app", PORTS["ours"], True),
                {"HOTSPOTS_DATABASE_URL": url, "HOTSPOTS_ENVIRONMENT": "development",
                 "HOTSPOTS_HEAVY_REQUESTS_PER_MINUTE": "1000"})
        tipg = {name: (uvicorn_argv(tipg_python, "tipg.main:app", PORTS[name]),
                       {"DATABASE_URL": dsn, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DB_TABLES": f'["public.{view}"]',
                        "TIPG_MAX_FEATURES_PER_QUERY": "10000", "TIPG_DB_MIN_CONN_SIZE": "8",
                        "TIPG_DB_MAX_CONN_SIZE": "8"})
                for name, view in TIPG_VIEWS.items()}
        for name, (argv, env) in {"ours": ours, **tipg}.items():
            base = f"http://{HOST}:{PORTS[name]}"
            figures: dict = {}
            try:
                with server(argv, env, base + "/healthz", workdir / f"{name}.log"):
                    who = token if name == "ours" else None
                    paths, seen, size = (our_pages(base, run_id, token) if name == "ours"
                                         else tipg_pages(base, cells, TIPG_VIEWS[name]))
                    load = run_wrk(paths, PORTS[name], who, args.duration, args.connections, workdir)
                    first_size = len(get(base + paths[0], who)[0])
                    first = run_wrk(paths[:1], PORTS[name], who, args.first_page_duration, args.connections, workdir)
                    figures = {**load_figures(load, len(paths), seen, size), "pages": len(paths),
                               "features_read": seen, "bytes_read": size,
                               "first_page": load_figures(first, 1, min(PAGE, seen), first_size)}
                    print(f"{name:5s}: {load['requests_per_s']:7.1f} pages/s  "
                          f"{figures['features_per_s']:,} features/s  "
                          f"{figures['body_bytes_per_s'] / 2 ** 20:.1f} MB/s  p50 {load['p50_ms']:7.1f} ms  "
                          f"p99 {load['p99_ms']:7.1f} ms  {len(paths)} pages, {seen:,} features, mean page "
                          f"{figures['mean_page_bytes'] / 1024:.0f} KB, non-2xx {load['non_2xx']}; first page only "
                          f"{first['requests_per_s']:.1f} pages/s ({first_size / 1024:.0f} KB)")
                    if name == "ours":
                        figures["small_bbox"] = bbox_figures(base, run_id, token)
                        print(f"ours, ~1 km² bbox: {figures['small_bbox']}")
                        figures["geopackage_export"] = export_figures(base, url, run_id, token, workdir)
                        print(f"GeoPackage export: {figures['geopackage_export']}")
            except Exception as exc:  # report and go on: one server failing must not hide the other
                log = (workdir / f"{name}.log").read_text()[-2000:] if (workdir / f"{name}.log").exists() else ""
                figures = {"error": f"{type(exc).__name__}: {exc}", "log_tail": log}
                print(f"{name}: FAILED {figures['error']}\n{log}")
            results["servers"][name] = figures
    servers = results["servers"]
    export = servers["ours"].get("geopackage_export", {})
    results["ours_to_tipg"] = {"every_page": ratios(servers["ours"], servers["tipg"]),
                               "first_page": ratios(servers["ours"].get("first_page", {}),
                                                    servers["tipg"].get("first_page", {})),
                               "every_page_tipg_6_decimals": ratios(servers["ours"], servers["tipg_6"])}
    results["ratio_ours_to_tipg"] = results["ours_to_tipg"]["every_page"]["pages"]
    results["targets"] = {
        "items >= 2x tipg": results["ratio_ours_to_tipg"] >= 2 if results["ratio_ours_to_tipg"] else None,
        "GeoPackage export <= 1.3x bare write_dataframe": export["ratio"] <= 1.3 if export else None,
    }
    print(json.dumps({"ours_to_tipg": results["ours_to_tipg"], "targets": results["targets"]}, indent=2))
    print(f"wrote {write_result('ogc', results)}")


if __name__ == "__main__":
    main()
