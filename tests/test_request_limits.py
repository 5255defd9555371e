"""Limits before reading, on the real service under uvicorn; the public URL; missing map assets.

Raw sockets are used so the test controls exactly how many bytes of a body are sent: the
server's answer arriving before the body was sent proves the body was never read or spooled.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.main import create_app
from app.store.backends import POSTGIS
from tests.browser_support import live_service
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA

MB = 1024 * 1024
BODY_150_MB = 150 * MB


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def service(committed_database, tmp_path_factory) -> Iterator[dict]:
    """The service with a 1 MB upload limit and its own temp folder, which holds a killed process's leftovers."""
    temp = tmp_path_factory.mktemp("service-tmp")
    stale = temp / f"hotspots-work-{_dead_pid()}-upload-abc"
    (stale / "inner").mkdir(parents=True)
    (stale / "inner" / "calls.csv").write_text("left behind by kill -9")
    live = temp / f"hotspots-work-{os.getpid()}-upload-def"  # a live process's: kept
    live.mkdir()
    engine = create_engine(committed_database)
    from app.services.accounts import create_user_with_token

    with Session(engine) as session:
        tokens = {role: create_user_with_token(POSTGIS.bind(session), f"limits-{role}", role) for role in ("viewer", "gis")}
        session.commit()
    engine.dispose()
    with live_service(committed_database, tmp_path_factory.mktemp("static"), environ={"TMPDIR": str(temp)},
                      max_upload_mb="1") as origin:
        yield {"origin": origin, "temp": temp, "tokens": tokens, "stale": stale, "live": live}


def _connect(origin: str) -> socket.socket:
    address = urlsplit(origin)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def _headers(path: str, extra: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
             "Content-Type: multipart/form-data; boundary=xyz", *(f"{k}: {v}" for k, v in extra.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, within_s: float = 5) -> tuple[int, bytes]:
    """The status and the whole answer (the server closes the connection after a refusal)."""
    sock.settimeout(within_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    status = int(data.split(b" ", 2)[1])
    return status, data


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("who, expected", [(None, 401), ("hs_not-a-token", 401), ("viewer", 403)])
def test_a_150_mb_body_is_refused_before_a_byte_is_read(service, who, expected):
    token = service["tokens"].get(who, who)
    extra = {"Content-Length": str(BODY_150_MB), **(auth(token) if token else {})}
    before = _files_under(service["temp"])
    with _connect(service["origin"]) as sock:
        sock.sendall(_headers("/api/v1/boundary-sets", extra))  # headers only: not one byte of the body
        status, answer = _answer(sock)
    assert status == expected, answer
    assert _files_under(service["temp"]) == before  # nothing was spooled


def test_a_declared_size_over_the_limit_is_refused_before_reading(service):
    extra = {"Content-Length": str(BODY_150_MB), **auth(service["tokens"]["gis"])}
    with _connect(service["origin"]) as sock:
        sock.sendall(_headers("/api/v1/boundary-sets", extra))
        status, answer = _answer(sock)
    assert status == 413 and b"upload limit of 1 MB" in answer


def test_a_streamed_body_is_cut_off_at_the_limit(service):
    """Chunked, so no Content-Length: the server stops reading at the limit and answers 413."""
    extra = {"Transfer-Encoding": "chunked", **auth(service["tokens"]["gis"])}
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with _connect(service["origin"]) as sock:
        sock.sendall(_headers("/api/v1/boundary-sets", extra))
        start = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.geojson"\r\n'
                 b"Content-Type: application/octet-stream\r\n\r\n")
        sock.sendall(f"{len(start):x}\r\n".encode() + start + b"\r\n")
        status = None
        while sent < 50 * MB:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        status, answer = _answer(sock)
    assert status == 413, answer
    print(f"streamed body: {sent / MB:.1f} MB sent before the 413")
    assert sent < 10 * MB  # what the server took before refusing (socket buffers included) stays near 1 MB
    assert not any(p.stat().st_size > 2 * MB for p in _files_under(service["temp"]))


def test_upload_folders_of_killed_processes_are_removed_at_start_up(service):
    assert not service["stale"].exists()
    assert service["live"].exists()


def test_a_real_upload_still_works(service):
    import urllib.request

    from tests.test_hostile_files import _multipart

    body, content_type = _multipart(KNA.read_bytes(), "parishes.geojson")
    request = urllib.request.Request(f"{service['origin']}/api/v1/boundary-sets", data=body, method="POST",
                                     headers={**auth(service["tokens"]["gis"]), "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201
    leftovers = [p for p in service["temp"].iterdir() if p.name.startswith("hotspots-work-") and p != service["live"]]
    assert leftovers == []


# --- the Host header, and missing assets (in-process) -----------------------------------------


def test_with_a_public_url_links_never_echo_the_host_header(app, client, tokens):
    app.state.settings = app.state.settings.model_copy(update={"public_url": "https://hotspots.example.gov.kn"})
    evil = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}
    tilejson = client.get("/tiles/communities.json", headers={**auth(tokens["viewer"]), **evil}).json()
    assert tilejson["tiles"][0].startswith("https://hotspots.example.gov.kn/tiles/communities/")
    with KNA.open("rb") as handle:
        created = client.post("/api/v1/boundary-sets", headers={**auth(tokens["gis"]), **evil},
                              files={"file": ("parishes.geojson", handle)})
    assert created.status_code == 201, created.text
    assert created.json()["url"].startswith("https://hotspots.example.gov.kn/api/v1/boundary-sets/")
    assert "attacker" not in created.text


def test_without_a_public_url_development_keeps_the_request_host(client, tokens):
    tilejson = client.get("/tiles/communities.json", headers={**auth(tokens["viewer"]), "Host": "localhost:8000"})
    assert tilejson.json()["tiles"][0].startswith("http://localhost:8000/tiles/")


def test_missing_map_assets_answer_503_not_500(settings, connection, tmp_path):
    from fastapi.testclient import TestClient

    bare = create_app(settings.model_copy(update={"static_dir": tmp_path}), engine=connection.engine,
                      start_worker=False)
    with TestClient(bare) as client:
        response = client.get("/static/vendor/leaflet/leaflet.js")
    assert response.status_code == 503
    assert "scripts/ensure-assets.sh" in response.json()["error"]["message"]


def test_a_json_body_over_1_mb_is_refused(client, tokens):
    response = client.post("/api/v1/analyses", headers={**auth(tokens["analyst"]), "Content-Type": "application/json"},
                           content=b'{"communities": [' + b"1," * (600 * 1024) + b"1]}")
    assert response.status_code == 413
    assert "larger than 1024 KB" in response.json()["error"]["message"]


def test_timing_is_not_waiting_on_the_body(service):
    """The refusal comes at once: well under the time it would take to send 150 MB."""
    started = time.monotonic()
    with _connect(service["origin"]) as sock:
        sock.sendall(_headers("/api/v1/incidents/imports", {"Content-Length": str(BODY_150_MB)}))
        status, _ = _answer(sock)
    assert status == 401 and time.monotonic() - started < 2
