"""Benchmark: hotspot vector tiles at z10, z12, z14 — ours (uncached and cached) vs tipg vs bare Starlette.

Run from the repository root with the project's virtualenv::

    .venv/bin/python bench/tiles.py [--duration 10] [--connections 8] [--tipg-venv /tmp/tipg-venv]

Setup: a fresh database ``hotspots_bench_tiles``; one community of ~1,000 km²
(the St Louis box of bench/stats.py) covered by ~68,000 resolution-10 cells
in one completed run, inserted directly with synthetic counts and Gi_Bin
classes. Servers, each one uvicorn worker on 127.0.0.1 (``--workers`` > 1
loses TCP_NODELAY):

- ``ours_uncached``: the service with ``HOTSPOTS_TILE_CACHE_MB=0`` (every tile
  drawn by PostGIS; token check and run lookup included);
- ``ours_cached``: the service with its finished-run tile cache, warmed by
  one pass over the tile list first;
- ``tipg``: ``tipg.main:app`` from a separate virtualenv (it pins its own
  FastAPI), ``TIPG_MAX_FEATURES_PER_TILE`` raised so it does not truncate,
  serving a view of the same run's cells with the same attributes;
- ``bare``: a Starlette endpoint with an asyncpg pool running one
  ``ST_AsMVT`` query per tile (the same query as our z14 tiles): the ceiling
  for Python over PostGIS.

Load: Debian's ``wrk`` on loopback, a Lua script cycling through every tile
of the run's extent at that zoom, fixed duration, so every loop stops by
itself. Our tiles at z10 and z12 draw coarser H3 parents by design (see
app/services/tiles.py), so only z14 compares like with like. Prints the
figures and ratios and writes ``bench/results/tiles.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, fresh_database, write_result  # noqa: E402
from bench.stats import STUDY_AREA, synthetic_counts  # noqa: E402
from spatial.grid import cell_boundaries, cover_communities  # noqa: E402

DB_NAME = "hotspots_bench_tiles"
HOST = "127.0.0.1"
ZOOMS = (10, 12, 14)
PORTS = {"ours_uncached": 18101, "ours_cached": 18102, "tipg": 18103, "bare": 18104}

BARE_APP = '''
import contextlib
import os
import asyncpg
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

SQL = """
WITH bounds AS (SELECT ST_TileEnvelope($1, $2, $3) AS tile,
                       ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 0.015625), 4326) AS search),
features AS (
  SELECT to_hex(h.cell) AS cell, h.incidents, h.gi_bin, h.gi_z, h.gi_p_fdr, h.lisa_label, c.name AS community,
         ST_AsMVTGeom(ST_Transform(h.geom, 3857), b.tile, 4096, 64, true) AS geom
  FROM hotspot_cells h CROSS JOIN bounds b JOIN communities c ON c.id = h.community_id
  WHERE h.run_id = $4 AND h.geom && b.search)
SELECT ST_AsMVT(f, 'hotspots', 4096, 'geom') FROM features f WHERE geom IS NOT NULL
"""
RUN = int(os.environ["BENCH_RUN_ID"])
pool = None

@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=8, max_size=8)
    yield
    await pool.close()

async def tile(request):
    p = request.path_params
    async with pool.acquire() as conn:
        body = await conn.fetchval(SQL, p["z"], p["x"], p["y"], RUN)
    if not body:
        return Response(status_code=204)
    return Response(bytes(body), media_type="application/vnd.mapbox-vector-tile")

app = Starlette(routes=[Route("/tiles/{z:int}/{x:int}/{y:int}.mvt", tile), Route("/healthz", lambda r: Response("ok"))],
                lifespan=lifespan)
'''

WRK_LUA = '''
local paths = {%s}
local i = 0
%s
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
'''


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def tiles_covering(bounds, z: int) -> list[tuple[int, int]]:
    west, south, east, north = bounds
    x0, y0 = tile_of(north, west, z)
    x1, y1 = tile_of(south, east, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def migrate_here(url: str) -> None:
    """Upgrade with this checkout's migrations (the venv's ``hotspots`` command may belong to another checkout)."""
    from alembic import command

    from app.cli import alembic_config

    command.upgrade(alembic_config(url), "head")


def build_run(url: str) -> tuple[int, str, int]:
    """One active community, one completed run of ~68,000 res-10 cells, one viewer token."""
    from app.services.accounts import create_user_with_token
    from app.store.backends import POSTGIS

    engine = create_engine(url)
    grid = cover_communities([STUDY_AREA], [1], 10)
    counts = synthetic_counts(grid.cells, seed=20240601).astype(np.int64)
    z_score = (counts - counts.mean()) / max(counts.std(), 1e-9)
    gi_bin = np.select([z_score > 2.58, z_score > 1.96, z_score > 1.65, z_score < -1.65], [3, 2, 1, -1], 0)
    wkb = shapely.to_wkb(np.asarray(cell_boundaries(grid.cells), dtype=object))
    with Session(engine) as session:
        set_id = session.execute(text(
            "INSERT INTO boundary_sets (name, is_active, activated_at) VALUES ('bench', true, now()) RETURNING id"
        )).scalar_one()
        community = session.execute(text(
            "INSERT INTO communities (boundary_set_id, name, area_km2, geom) "
            "VALUES (:s, 'Bench City', 1000, ST_Multi(ST_GeomFromWKB(:wkb, 4326))) RETURNING id"
        ), {"s": set_id, "wkb": shapely.to_wkb(STUDY_AREA)}).scalar_one()
        run_id = session.execute(text(
            "INSERT INTO hotspot_runs (status, parameters, seed, boundary_set_id, finished_at) "
            "VALUES ('completed', '{\"synthetic\": true}', 1, :s, now()) RETURNING id"
        ), {"s": set_id}).scalar_one()
        session.execute(text(
            "INSERT INTO hotspot_cells (run_id, cell, community_id, incidents, gi_z, gi_p_fdr, gi_bin, "
            "lisa_quadrant, lisa_label, geom) SELECT :run, u.cell, :community, u.incidents, u.z, 0.01, u.gi_bin, 0, "
            "'not significant', ST_GeomFromWKB(u.wkb, 4326) FROM unnest(CAST(:cells AS bigint[]), "
            "CAST(:incidents AS integer[]), CAST(:z AS float8[]), CAST(:gi_bin AS smallint[]), "
            "CAST(:wkb AS bytea[])) AS u(cell, incidents, z, gi_bin, wkb)"
        ), {"run": run_id, "community": community, "cells": grid.cells.tolist(), "incidents": counts.tolist(),
            "z": z_score.tolist(), "gi_bin": gi_bin.tolist(), "wkb": list(wkb)})
        # The same cells and attributes for tipg, as a view (the planner inlines it, so the GiST index is used).
        session.execute(text(
            "CREATE VIEW tipg_hotspot_cells AS SELECT to_hex(h.cell) AS cell, h.incidents, h.gi_bin, h.gi_z, "
            "h.gi_p_fdr, h.lisa_label, c.name AS community, h.geom FROM hotspot_cells h "
            f"JOIN communities c ON c.id = h.community_id WHERE h.run_id = {int(run_id)}"
        ))
        session.commit()
        # Patrol planners (analysts) see police runs; viewers would see only shared runs.
        token = create_user_with_token(POSTGIS.bind(session), "bench-analyst", "analyst")
        session.execute(text("ANALYZE"))
        session.commit()
    engine.dispose()
    return run_id, token, len(grid)


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


@contextmanager
def server(argv: list[str], env: dict[str, str], health: str, log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
        try:
            wait_until_up(health)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def uvicorn_argv(python: str, app: str, port: int, factory: bool = False) -> list[str]:
    argv = [python, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), "--workers", "1",
            "--no-access-log", "--log-level", "warning"]
    return argv + (["--factory"] if factory else [])


def run_wrk(paths: list[str], port: int, token: str | None, duration: int, connections: int,
            workdir: Path) -> dict:
    headers = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = workdir / f"tiles-{port}.lua"
    script.write_text(WRK_LUA % (", ".join(json.dumps(p) for p in paths), headers))
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
                          "-s", str(script), f"http://{HOST}:{port}"],
                         capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    return parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict:
    if "Requests/sec" not in out or not re.search(r"^\s+99%", out, re.M):
        raise RuntimeError(f"unexpected wrk output: {out[-800:]}")
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
        "transfer_bytes_per_s": _bytes(re.search(r"Transfer/sec:\s+(\S+)", out).group(1)),
    }


def _bytes(value: str) -> int:
    """wrk's Transfer/sec figure (bodies and headers), e.g. ``11.52MB``, in bytes."""
    number, unit = re.fullmatch(r"([\d.]+)([KMG]?B)", value).groups()
    return round(float(number) * {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[unit])


def tile_sizes(base: str, paths: list[str], token: str | None) -> dict:
    """Fetch each tile once: status counts and byte sizes (also warms a cache)."""
    sizes, statuses = [], {}
    for path in paths:
        request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            sizes.append(len(body))
    return {"tiles": len(paths), "statuses": statuses, "max_bytes": max(sizes),
            "mean_bytes": round(sum(sizes) / len(sizes))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server and zoom")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tipg-venv", default="/tmp/tipg-venv")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    url = fresh_database(DB_NAME)
    migrate_here(url)
    clock = time.perf_counter()
    run_id, token, cells = build_run(url)
    print(f"run {run_id}: {cells:,} resolution-10 cells, set up in {time.perf_counter() - clock:.1f} s")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    west, south, east, north = shapely.bounds(STUDY_AREA)
    tiles = {z: tiles_covering((west, south, east, north), z) for z in ZOOMS}
    ours_env = {"HOTSPOTS_DATABASE_URL": url, "HOTSPOTS_ENVIRONMENT": "development"}
    tipg_python = str(Path(args.tipg_venv) / "bin" / "python")
    servers = {
        "ours_uncached": (uvicorn_argv(sys.executable, "app.main:create_app", PORTS["ours_uncached"], True),
                          {**ours_env, "HOTSPOTS_TILE_CACHE_MB": "0"}, "/healthz", token,
                          lambda z, x, y: f"/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"),
        "ours_cached": (uvicorn_argv(sys.executable, "app.main:create_app", PORTS["ours_cached"], True),
                        {**ours_env, "HOTSPOTS_TILE_CACHE_MB": "256"}, "/healthz", token,
                        lambda z, x, y: f"/tiles/hotspots/{z}/{x}/{y}.mvt?run={run_id}"),
        "tipg": (uvicorn_argv(tipg_python, "tipg.main:app", PORTS["tipg"]),
                 {"DATABASE_URL": dsn, "TIPG_MAX_FEATURES_PER_TILE": "1000000",
                  "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DB_TABLES": '["public.tipg_hotspot_cells"]',
                  "TIPG_DB_MIN_CONN_SIZE": "8", "TIPG_DB_MAX_CONN_SIZE": "8"}, "/healthz", None,
                 lambda z, x, y: f"/collections/public.tipg_hotspot_cells/tiles/WebMercatorQuad/{z}/{x}/{y}"),
        "bare": ([*uvicorn_argv(tipg_python, "bare_tiles:app", PORTS["bare"]), "--app-dir", "{workdir}"],
                 {"BENCH_DSN": dsn, "BENCH_RUN_ID": str(run_id)}, "/healthz", None,
                 lambda z, x, y: f"/tiles/{z}/{x}/{y}.mvt"),
    }
    results: dict = {"setup": {"cells": cells, "resolution": 10, "run": run_id, "area": "St Louis box, ~1,000 km²",
                               "tiles_per_zoom": {z: len(t) for z, t in tiles.items()},
                               "connections": args.connections, "duration_s": args.duration,
                               "load_generator": "wrk 1 thread", "uvicorn_workers": 1},
                     "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bare_tiles.py").write_text(BARE_APP)
        for name, (argv, env, health, auth, path_of) in servers.items():
            argv = [a.replace("{workdir}", str(workdir)) for a in argv]
            port = PORTS[name]
            base = f"http://{HOST}:{port}"
            figures: dict = {}
            try:
                with server(argv, env, base + health, workdir / f"{name}.log"):
                    for z in ZOOMS:
                        paths = [path_of(z, x, y) for x, y in tiles[z]]
                        sizes = tile_sizes(base, paths, auth)  # also warms ours_cached
                        load = run_wrk(paths, port, auth, args.duration, args.connections, workdir)
                        figures[f"z{z}"] = {**load, **sizes}
                        print(f"{name:14s} z{z}: {load['requests_per_s']:8.0f} req/s  p50 {load['p50_ms']:6.2f} ms  "
                              f"p99 {load['p99_ms']:6.2f} ms  max tile {sizes['max_bytes'] / 1024:7.1f} KB  "
                              f"non-2xx {load['non_2xx']}")
            except Exception as exc:  # report and go on: one server failing must not hide the others
                log = (workdir / f"{name}.log").read_text()[-2000:] if (workdir / f"{name}.log").exists() else ""
                figures["error"] = f"{type(exc).__name__}: {exc}"
                figures["log_tail"] = log
                print(f"{name}: FAILED {figures['error']}\n{log}")
            results["servers"][name] = figures
    results["ratios_z14"] = ratios(results["servers"])
    results["targets"] = targets(results)
    print(json.dumps({"ratios_z14": results["ratios_z14"], "targets": results["targets"]}, indent=2))
    print(f"wrote {write_result('tiles', results)}")


def ratios(servers: dict) -> dict:
    def rps(name: str) -> float | None:
        return servers.get(name, {}).get("z14", {}).get("requests_per_s")

    out = {}
    for mine in ("ours_uncached", "ours_cached"):
        for other in ("tipg", "bare"):
            if rps(mine) and rps(other):
                out[f"{mine}/{other}"] = round(rps(mine) / rps(other), 2)
    return out


def targets(results: dict) -> dict:
    r, servers = results["ratios_z14"], results["servers"]
    p99 = [servers.get(n, {}).get("z14", {}).get("p99_ms") for n in ("ours_uncached", "ours_cached")]
    return {
        "z14 uncached >= 2x tipg": r.get("ours_uncached/tipg", 0) >= 2 if "ours_uncached/tipg" in r else None,
        "z14 cached >= 3x tipg": r.get("ours_cached/tipg", 0) >= 3 if "ours_cached/tipg" in r else None,
        "z14 p99 < 25 ms (uncached, cached)": [p is not None and p < 25 for p in p99],
    }


if __name__ == "__main__":
    main()
