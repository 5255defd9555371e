"""Load drill: 50 concurrent clients on loopback for 60 s, mixing tile requests, incident
queries, run reads and analysis submissions while an import runs.

Reports errors, p50/p99 per kind of request and the service's memory over time
(bench/results/load.json). Loopback only; the clients stop after --seconds.

    .venv/bin/python bench/load.py [--clients 50] [--seconds 60] [--embedded]

``--embedded`` runs the same drill on the embedded SQLite store (results in load-embedded.json).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, fresh_database, write_result  # noqa: E402
from bench.crash import _free_port, _serve, _token  # noqa: E402
from spatial.synthetic import write_synthetic_csv  # noqa: E402

BIN = Path(sys.executable).parent
KNA_TILES = [(12, 1325, 1861), (12, 1326, 1861), (12, 1325, 1862), (13, 2651, 3723), (14, 5302, 7446),
             (14, 5303, 7446), (10, 331, 465), (11, 662, 930)]


def prepare(url: str) -> None:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    run = lambda *args: subprocess.run([str(BIN / "hotspots"), *args], env=env, check=True,  # noqa: E731
                                       stdout=subprocess.DEVNULL)
    run("boundaries", "import", "--sample", "--activate")
    seed_csv = write_synthetic_csv(DATA / "load_seed.csv", 100_000, seed=3)
    run("incidents", "import", str(seed_csv), "--source", "load-seed", "--no-progress")
    run("analyses", "run", "--all", "--resolution", "9", "--permutations", "99", "--seed", "1")


async def client_loop(base: str, headers: dict, stop_at: float, kinds: list[str], latencies, errors, limited,
                      busy,
                      run_url: str):
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        while time.monotonic() < stop_at:
            kind = random.choice(kinds)
            started = time.perf_counter()
            try:
                if kind == "tile":
                    z, x, y = random.choice(KNA_TILES)
                    response = await client.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"run": 1})
                    ok = response.status_code in (200, 204, 304)
                elif kind == "incidents":
                    response = await client.get("/api/v1/incidents", params={"limit": 100, "category": "Theft"})
                    ok = response.status_code == 200
                elif kind == "run":
                    response = await client.get(run_url)
                    ok = response.status_code == 200
                elif kind == "ranking":
                    response = await client.get(f"{run_url}/neighbourhoods")
                    ok = response.status_code == 200
                else:
                    response = await client.post("/api/v1/analyses", json={
                        "resolution": 8, "permutations": 99, "seed": random.randrange(1000)})
                    # 429 with Retry-After is the per-user limit on heavy requests doing its job; on the
                    # embedded store a 503 "busy" with Retry-After says an import holds the write lock.
                    ok = response.status_code == 202 or (
                        response.status_code in (429, 503) and "Retry-After" in response.headers)
                    if response.status_code == 429:
                        limited[kind] += 1
                    if response.status_code == 503:
                        busy[kind] += 1
            except httpx.HTTPError as exc:
                errors[kind].append(type(exc).__name__)
                continue
            latencies[kind].append(time.perf_counter() - started)
            if not ok:
                errors[kind].append(response.status_code)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def drive(base: str, headers: dict, clients: int, seconds: float, server_pid: int, kinds: list[str]):
    latencies, errors, limited, busy = defaultdict(list), defaultdict(list), defaultdict(int), defaultdict(int)
    stop_at = time.monotonic() + seconds
    memory = []

    async def sample_memory():
        while time.monotonic() < stop_at:
            memory.append((round(seconds - (stop_at - time.monotonic()), 1), round(rss_mb(server_pid), 1)))
            await asyncio.sleep(5)

    await asyncio.gather(sample_memory(), *[
        client_loop(base, headers, stop_at, kinds, latencies, errors, limited, busy, f"{base}/api/v1/analyses/1")
        for _ in range(clients)
    ])
    return latencies, errors, limited, busy, memory


def embedded_database() -> str:
    """A new, migrated embedded database file under bench/data."""
    path = DATA / "load.sqlite"
    for leftover in DATA.glob("load.sqlite*"):
        leftover.unlink()
    url = f"sqlite:///{path}"
    subprocess.run([str(BIN / "hotspots"), "db", "upgrade"], env={**os.environ, "HOTSPOTS_DATABASE_URL": url},
                   check=True, stdout=subprocess.DEVNULL)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--embedded", action="store_true", help="on the embedded SQLite store")
    args = parser.parse_args()
    url = embedded_database() if args.embedded else fresh_database("hotspots_bench_load")
    prepare(url)
    port = _free_port()
    server = _serve(url, port)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {_token(url, 'load-analyst', 'analyst')}"}
    has_tiles = any(p.startswith("/tiles/") for p in httpx.get(f"{base}/openapi.json").json()["paths"])
    kinds = (["tile"] * 4 if has_tiles else []) + ["incidents"] * 3 + ["run", "ranking"] * 2 + ["submit"]
    import_csv = write_synthetic_csv(DATA / "load_import.csv", 500_000, seed=4)
    importer = subprocess.Popen(
        [str(BIN / "hotspots"), "incidents", "import", str(import_csv), "--source", "load-import", "--no-progress"],
        env={**os.environ, "HOTSPOTS_DATABASE_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latencies, errors, limited, busy, memory = asyncio.run(drive(base, headers, args.clients, args.seconds, server.pid, kinds))
    import_out, _ = importer.communicate(timeout=600)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    figures = {}
    print(f"{args.clients} clients, {args.seconds:.0f} s, import running: {import_out.strip()}")
    for kind in sorted(latencies):
        values = np.array(latencies[kind]) * 1000
        figures[kind] = {"requests": len(values), "errors": len(errors[kind]), "rate_limited": limited[kind],
                         "busy": busy[kind], "p50_ms": round(float(np.percentile(values, 50)), 1),
                         "p99_ms": round(float(np.percentile(values, 99)), 1)}
        print(f"  {kind:<10} {len(values):>7,} requests  {len(errors[kind]):>4} errors  {limited[kind]:>5} limited  "
              f"{busy[kind]:>4} busy  p50 {figures[kind]['p50_ms']:>7.1f} ms  p99 {figures[kind]['p99_ms']:>7.1f} ms")
    print(f"  service RSS over time (s, MB): {memory}")
    total_errors = sum(len(e) for e in errors.values())
    path = write_result("load-embedded" if args.embedded else "load", {
        "store": "sqlite" if args.embedded else "postgis", "clients": args.clients, "seconds": args.seconds,
        "tiles_included": has_tiles, "import": import_out.strip(), "kinds": figures, "errors": total_errors,
        "error_samples": {k: v[:5] for k, v in errors.items() if v}, "rss_mb": memory})
    print(f"errors: {total_errors}; written to {path}")
    if total_errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
