"""Hostile files through the HTTP API: no request leaves the server, no file pins a worker.

The attacks run as a GIS clerk (boundary upload) and an analyst (incident import) would send
them; a TCP listener on a loopback port records every connection the server makes to it.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
import shapely
from sqlalchemy import text

from spatial.file_guard import gdal_offline
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA


class Listener:
    """A TCP server on 127.0.0.1 that records every connection (and what was sent on it)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.received.append(connection.recv(4096) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        time.sleep(0.3)  # a request the server made late would still be recorded
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _geojson(crs: dict | None, where: str = "top", key: str = "crs") -> str:
    """A small collection of KNA parish polygons, or incident points, with a crs member placed at ``where``."""
    points = [[-62.72 + i * 0.001, 17.30] for i in range(3)]
    features = [{"type": "Feature", "properties": {"name": f"p{i}", "date": "2024-03-01", "category": "Theft"},
                 "geometry": {"type": "Point", "coordinates": point}} for i, point in enumerate(points)]
    if where == "geometry":
        features[1]["geometry"][key] = crs
    elif where == "feature":
        features[1][key] = crs
    collection: dict = {"type": "FeatureCollection", "features": features}
    if where == "top":
        collection[key] = crs
    return json.dumps(collection)


def _boundaries_with(crs: dict, key: str = "crs") -> str:
    collection = json.loads(KNA.read_text())
    collection[key] = crs
    return json.dumps(collection)


def _link(port: int, kind: str = "link") -> dict:
    return {"type": kind, "properties": {"href": f"http://127.0.0.1:{port}/crs.wkt", "url": f"http://127.0.0.1:{port}/u",
                                          "type": "ogcwkt"}}


REMOTE_CRS = {
    "link": lambda port: ("crs", _link(port)),
    "URL": lambda port: ("crs", _link(port, "URL")),
    "upper-case LINK and CRS key": lambda port: ("CRS", _link(port, "LINK")),
    "name that is a URL": lambda port: ("crs", {"type": "name", "properties": {"name": f"http://127.0.0.1:{port}/x"}}),
    "EPSG type": lambda port: ("crs", {"type": "EPSG", "properties": {"code": 4326}}),
    "JSON-FG coordRefSys URL": lambda port: ("coordRefSys", f"http://127.0.0.1:{port}/crs"),
}


@pytest.mark.parametrize("variant", list(REMOTE_CRS))
def test_boundary_upload_with_a_remote_crs_is_refused_and_nothing_is_fetched(
        client, store, tokens, tmp_path, listener, variant):
    key, crs = REMOTE_CRS[variant](listener.port)
    path = tmp_path / "parishes.geojson"
    path.write_text(_boundaries_with(crs, key))
    before = store.session.execute(text("SELECT count(*) FROM boundary_sets")).scalar_one()
    with path.open("rb") as handle:
        response = client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                               files={"file": ("parishes.geojson", handle)})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "coordinate system" in message and "EPSG" in message
    assert listener.received == []
    assert store.session.execute(text("SELECT count(*) FROM boundary_sets")).scalar_one() == before


@pytest.mark.parametrize("where", ["top", "feature", "geometry"])
def test_incident_import_with_a_remote_crs_is_refused_and_nothing_is_fetched(
        client, store, tokens, tmp_path, listener, where):
    path = tmp_path / "calls.geojson"
    path.write_text(_geojson(_link(listener.port), where))
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": ("calls.geojson", handle)}, data={"source": "ssrf"})
    assert response.status_code == 422, response.text
    assert "link or URL" in response.json()["error"]["message"]
    assert listener.received == []
    assert store.session.execute(text("SELECT count(*) FROM incidents WHERE source = 'ssrf'")).scalar_one() == 0


def test_epsg_names_are_still_accepted(client, tokens, tmp_path):
    path = tmp_path / "calls.geojson"
    path.write_text(_geojson({"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}))
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": ("calls.geojson", handle)}, data={"source": "named-crs"})
    assert response.status_code == 201, response.text
    assert response.json()["inserted"] == 3


def test_gdal_itself_is_offline_even_past_the_check(tmp_path, listener):
    """The second wall: were a crs link to reach GDAL, its HTTP request still goes nowhere."""
    gdal_offline()
    path = tmp_path / "direct.geojson"
    path.write_text(_geojson(_link(listener.port)))
    pyogrio.read_info(path)  # GDAL falls back to its default CRS when the fetch fails
    assert listener.received == []


# --- GeoPackages that would pin a worker ----------------------------------------------------


def _recursive_view_geopackage(directory: Path) -> Path:
    """A real GeoPackage whose only feature layer is a view that recurses for ever."""
    import geopandas

    path = directory / "endless.gpkg"
    frame = geopandas.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(-62.7, 17.3)], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="seed", driver="GPKG")
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIEW endless AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                   "SELECT r.n AS fid, s.geom AS geom, s.name AS name FROM r, seed s")
        db.execute("DELETE FROM gpkg_contents WHERE table_name = 'seed'")
        db.execute("UPDATE gpkg_geometry_columns SET table_name = 'endless' WHERE table_name = 'seed'")
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                   "VALUES ('endless', 'features', 'endless', 4326)")
    return path


def test_the_recursive_view_really_never_ends(tmp_path):
    """What the file does to anything that reads its layer: stopped here by a 1 s progress budget."""
    path = _recursive_view_geopackage(tmp_path)
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        deadline = time.monotonic() + 1
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            db.execute("SELECT count(*) FROM endless").fetchall()


@pytest.mark.parametrize("route, role, extra", [
    ("/api/v1/boundary-sets", "gis", {}),
    ("/api/v1/incidents/imports", "analyst", {"source": "endless"}),
])
def test_a_recursive_view_geopackage_is_refused_within_its_budget(client, tokens, tmp_path, route, role, extra):
    path = _recursive_view_geopackage(tmp_path)
    started = time.monotonic()
    with path.open("rb") as handle:
        response = client.post(route, headers=auth(tokens[role]), files={"file": ("endless.gpkg", handle)},
                               data=extra)
    elapsed = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert "views" in response.json()["error"]["message"]
    assert elapsed < 5
    assert client.get("/healthz").status_code == 200


def test_other_requests_keep_answering_while_the_file_is_refused(committed_database, tmp_path):
    """On the real service under uvicorn: uploads of the endless GeoPackage run while health checks answer."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.services.accounts import create_user_with_token
    from app.store.backends import POSTGIS
    from tests.browser_support import live_service

    engine = create_engine(committed_database)
    with Session(engine) as session:
        token = create_user_with_token(POSTGIS.bind(session), "gis-endless", "gis")
        session.commit()
    engine.dispose()
    path = _recursive_view_geopackage(tmp_path)
    body, content_type = _multipart(path.read_bytes(), "endless.gpkg")
    with live_service(committed_database, tmp_path / "static") as origin:
        def upload() -> tuple[int, float]:
            started = time.monotonic()
            request = urllib.request.Request(f"{origin}/api/v1/boundary-sets", data=body, method="POST",
                                             headers={**auth(token), "Content-Type": content_type})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, time.monotonic() - started
            except urllib.error.HTTPError as refused:
                return refused.code, time.monotonic() - started

        def health() -> float:
            started = time.monotonic()
            with urllib.request.urlopen(f"{origin}/healthz", timeout=10) as answer:
                assert answer.status == 200
            return time.monotonic() - started

        with ThreadPoolExecutor(8) as pool:
            uploads = [pool.submit(upload) for _ in range(4)]
            checks = [pool.submit(health) for _ in range(8)]
            results = [u.result() for u in uploads]
            waits = [c.result() for c in checks]
    assert all(status == 422 and elapsed < 5 for status, elapsed in results), results
    assert max(waits) < 2, waits


def _multipart(content: bytes, filename: str, fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    boundary = "hotspots-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in (fields or {}).items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_feature_and_vertex_limits_refuse_with_the_counts(tmp_path):
    """The limits apply before any geometry work, with the numbers in the message."""
    from spatial.boundaries import UploadLimits, read_boundary_file
    from spatial.errors import UploadTooLarge

    collection = json.loads(KNA.read_text())
    collection["features"] = collection["features"] * 4
    path = tmp_path / "many.geojson"
    path.write_text(json.dumps(collection))
    with pytest.raises(UploadTooLarge, match="56 boundaries, more than the limit of 50"):
        read_boundary_file(path, original_name="many.geojson", limits=UploadLimits(max_boundary_features=50))
    with pytest.raises(UploadTooLarge, match=r"vertices, more than the limit of 300\. Simplify"):
        read_boundary_file(KNA, original_name="kna.geojson", limits=UploadLimits(max_boundary_vertices=300))
