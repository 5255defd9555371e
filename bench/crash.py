"""Crash drills, each printing what it saw (bench/results/crash.json):

1. SIGKILL the importer in the middle of a 1,000,000-row import: no row of that
   import remains; running it again imports every row once.
2. Restart PostgreSQL while the service runs: requests during the outage get
   503 with Retry-After; the service recovers without a restart.
3. SIGKILL the service during an analysis: on restart the run is failed (with a
   message to submit it again), never stuck in 'running'.

Only loopback traffic; every loop is bounded. Needs root or the postgres user
for the restart (pg_ctlcluster); skip drill 2 with --no-restart.

    .venv/bin/python bench/crash.py [--rows 1000000] [--no-restart]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DATA, fresh_database, write_result  # noqa: E402
from spatial.synthetic import write_synthetic_csv  # noqa: E402

BIN = Path(sys.executable).parent


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _scalar(url: str, sql: str, *params):
    with psycopg.connect(_dsn(url)) as conn:
        return conn.execute(sql, params).fetchone()[0]


def kill_import(url: str, rows: int) -> dict:
    path = DATA / f"crash_{rows}.csv"
    if not path.exists():
        write_synthetic_csv(path, rows, seed=7)
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    command = [str(BIN / "hotspots"), "incidents", "import", str(path), "--source", "crash-drill", "--no-progress"]
    importer = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while time.monotonic() - started < 120:
        if _scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY incidents%%' AND state='active'"):
            break
        time.sleep(0.05)
    time.sleep(3.0)  # well into the COPY
    importer.send_signal(signal.SIGKILL)
    importer.wait()
    killed_after = time.monotonic() - started
    for _ in range(100):
        if not _scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY incidents%%' AND state='active'"):
            break
        time.sleep(0.1)
    left = _scalar(url, "SELECT count(*) FROM incidents WHERE source = 'crash-drill'")
    rerun_started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    rerun_s = time.monotonic() - rerun_started
    after = _scalar(url, "SELECT count(*) FROM incidents WHERE source = 'crash-drill'")
    distinct = _scalar(url, "SELECT count(DISTINCT external_id) FROM incidents WHERE source = 'crash-drill'")
    ok = left == 0 and after == rows == distinct
    print(f"[1] SIGKILL after {killed_after:.1f} s: {left} rows left; rerun {rerun_s:.1f} s -> {after:,} rows "
          f"({distinct:,} distinct) {'OK' if ok else 'FAILED'}")
    return {"killed_after_s": round(killed_after, 2), "rows_left": left, "rerun_rows": after,
            "rerun_distinct": distinct, "rerun_s": round(rerun_s, 2), "ok": ok}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url, "HOTSPOTS_ANALYSIS_WORKER": "thread"}
    server = subprocess.Popen([str(BIN / "hotspots"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the service did not start")


def _token(url: str, name: str, role: str) -> str:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    return subprocess.run([str(BIN / "hotspots"), "users", "create", name, "--role", role], env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def restart_database(url: str) -> dict:
    port = _free_port()
    server = _serve(url, port)
    headers = {"Authorization": f"Bearer {_token(url, 'crash-viewer', 'analyst')}"}
    base = f"http://127.0.0.1:{port}"
    cluster = sorted(os.listdir("/etc/postgresql"))[-1]
    statuses: dict[int, int] = {}
    retry_after = set()
    restart = subprocess.Popen(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    recovered_at = None
    while time.monotonic() - started < 60:
        try:
            response = httpx.get(f"{base}/api/v1/incidents", params={"limit": 1}, headers=headers, timeout=5)
        except httpx.TransportError:
            statuses[0] = statuses.get(0, 0) + 1
            continue
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 503:
            retry_after.add(response.headers.get("Retry-After"))
        if response.status_code == 200 and restart.poll() is not None:
            recovered_at = time.monotonic() - started
            break
        time.sleep(0.05)
    restart.wait()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    ok = recovered_at is not None and 500 not in statuses and 0 not in statuses
    print(f"[2] PostgreSQL restart: responses {statuses}, Retry-After {sorted(r for r in retry_after if r)}, "
          f"recovered after {recovered_at and round(recovered_at, 2)} s {'OK' if ok else 'FAILED'}")
    return {"statuses": {str(k): v for k, v in statuses.items()}, "retry_after": sorted(r for r in retry_after if r),
            "recovered_after_s": recovered_at and round(recovered_at, 2), "ok": ok}


def kill_during_analysis(url: str) -> dict:
    env = {**os.environ, "HOTSPOTS_DATABASE_URL": url}
    subprocess.run([str(BIN / "hotspots"), "boundaries", "import", "--sample", "--activate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    port = _free_port()
    server = _serve(url, port)
    headers = {"Authorization": f"Bearer {_token(url, 'crash-analyst', 'analyst')}"}
    base = f"http://127.0.0.1:{port}"
    submitted = httpx.post(f"{base}/api/v1/analyses", headers=headers, timeout=30,
                           json={"resolution": 11, "permutations": 9999, "seed": 1}).json()
    run_url = submitted["url"]
    for _ in range(600):
        if httpx.get(run_url, headers=headers, timeout=5).json()["status"] == "running":
            break
        time.sleep(0.02)
    status_before = httpx.get(run_url, headers=headers, timeout=5).json()["status"]
    server.send_signal(signal.SIGKILL)
    server.wait()
    server = _serve(url, port)
    after = httpx.get(run_url, headers=headers, timeout=5).json()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    ok = status_before == "running" and after["status"] == "failed"
    print(f"[3] SIGKILL during an analysis ({status_before}): after restart {after['status']}: "
          f"{after.get('error')} {'OK' if ok else 'FAILED'}")
    return {"status_when_killed": status_before, "status_after_restart": after["status"],
            "error": after.get("error"), "ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-restart", action="store_true", help="skip the PostgreSQL restart drill")
    args = parser.parse_args()
    url = fresh_database("hotspots_bench_crash")
    figures = {"kill_import": kill_import(url, args.rows)}
    if not args.no_restart:
        figures["restart_database"] = restart_database(url)
    figures["kill_during_analysis"] = kill_during_analysis(url)
    path = write_result("crash", {"rows": args.rows, **figures})
    print(f"written to {path}")
    if not all(f["ok"] for f in figures.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
