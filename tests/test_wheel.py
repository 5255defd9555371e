"""The package works when built as a wheel and run from any directory, not only from the checkout.

Builds the wheel, installs it into a fresh virtualenv outside the checkout, and from an empty
temporary directory runs `hotspots db upgrade` and `hotspots demo` until the map page and its
Leaflet files answer 200. The fresh virtualenv takes its third-party libraries (numpy, GDAL
wheels, ...) from the project's virtualenv through a path entry, so the test does not download
them again; the project's own code comes only from the wheel (the checkout's editable hook is not
loaded that way, and the test asserts where `app` was imported from).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.browser_support import free_port

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTSPOTS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv holding only the wheel of this project (plus a path to the libraries)."""
    build = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(build), str(ROOT)],
                   check=True, cwd=build, timeout=600)
    wheel = next(build.glob("hotspots-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "migrations/env.py" in names and "migrations/script.py.mako" in names
    assert any(n.startswith("migrations/versions/0001_") for n in names)
    assert "app/frontend/package-lock.json" in names and "app/templates/base.html" in names
    assert {"app/templates/compare.html", "app/templates/print.html", "app/data/kna_places.geojson"} <= set(names)
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    return venv


def test_the_wheel_migrates_and_runs_the_demo_from_any_directory(installed, tmp_path):
    work = tmp_path / "anywhere"
    work.mkdir()
    cache = ROOT / "app" / "frontend" / ".cache"  # filled by scripts/ensure-assets.sh: no network needed
    if cache.is_dir():
        shutil.copytree(cache, work / "var" / "npm-cache")
    env = _clean_env({})
    python = str(installed / "bin" / "python")
    where = subprocess.run([python, "-c", "import app, migrations; print(app.__file__); print(migrations.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout
    assert str(ROOT) not in where and str(installed) in where

    upgraded = subprocess.run([str(installed / "bin" / "hotspots"), "db", "upgrade"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (work / "var" / "hotspots.sqlite").is_file()

    port = free_port()
    log = work / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen([str(installed / "bin" / "hotspots"), "demo", "--port", str(port),
                                 "--incidents", "800"], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        token = map_path = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and map_path is None:
            assert demo.poll() is None, log.read_text()
            for line in log.read_text().splitlines():
                if "admin token" in line:
                    token = line.rsplit(":", 1)[1].strip()
                if line.strip().startswith("map:"):
                    map_path = line.split(f":{port}", 1)[1].strip()
            time.sleep(0.5)
        assert token and map_path, log.read_text()
        page = _get(port, map_path, token, deadline)
        assert "/static/vendor/leaflet/leaflet.js" in page
        for asset in ("/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"):
            assert _get(port, asset, token, deadline)
        assert (work / "var" / "static" / "vendor" / "leaflet" / "leaflet.js").is_file()
    finally:
        demo.terminate()
        demo.wait(timeout=30)


def _get(port: int, path: str, token: str, deadline: float) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                return response.read().decode("utf-8", "replace")
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
