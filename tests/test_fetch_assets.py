"""app/assets.py: integrity check, member selection, idempotence, cache, registry mirrors.

Tarballs are built here and served from a file:// "registry"; no network, no database, nothing
imported but the script itself (standard library only).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fetch_assets", ROOT / "app" / "assets.py")
fa = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fetch_assets", fa)  # dataclasses look their module up there
_spec.loader.exec_module(fa)

LEAFLET_FILES = {
    "package/dist/leaflet.js": b"/* leaflet */",
    "package/dist/leaflet.js.map": b"{}",
    "package/dist/leaflet.css": b".leaflet{}",
    "package/LICENSE": b"BSD-2-Clause",
    "package/dist/images/marker-icon.png": b"\x89PNG icon",
    "package/dist/images/layers.png": b"\x89PNG layers",
}
VECTORGRID_FILES = {"package/dist/Leaflet.VectorGrid.bundled.min.js": b"/* vectorgrid */"}
# The documentation's packages (the same in every registry below); ReDoc's bundle holds the CDN logo
# address the fetcher replaces.
DOCS_PACKAGES = {
    "swagger-ui-dist": ("5.35.0", {"package/swagger-ui-bundle.js": b"/* swagger */",
                                   "package/swagger-ui.css": b".swagger{}", "package/LICENSE": b"Apache-2.0"}),
    "redoc": ("2.5.4", {"package/bundles/redoc.standalone.js": b'img({src:"https://cdn.redoc.ly/redoc/logo-mini.svg"})',
                        "package/LICENSE": b"MIT"}),
}
EXPECTED = {
    "swagger-ui/swagger-ui-bundle.js": b"/* swagger */",
    "swagger-ui/swagger-ui.css": b".swagger{}",
    "swagger-ui/LICENSE": b"Apache-2.0",
    "redoc/redoc.standalone.js": b'img({src:"data:,"})',
    "redoc/LICENSE": b"MIT",
    "leaflet/leaflet.js": b"/* leaflet */",
    "leaflet/leaflet.js.map": b"{}",
    "leaflet/leaflet.css": b".leaflet{}",
    "leaflet/LICENSE": b"BSD-2-Clause",
    "leaflet/images/marker-icon.png": b"\x89PNG icon",
    "leaflet/images/layers.png": b"\x89PNG layers",
    "leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js": b"/* vectorgrid */",
}


def make_tgz(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """A directory laid out like an npm registry, a lock file pinning its tarballs, a vendor dir."""

    def __init__(self, root: Path, leaflet: bytes, vectorgrid: bytes, integrity: dict[str, str] | None = None):
        self.dir = root / "registry"
        self.lock = root / "frontend" / "package-lock.json"
        self.vendor = root / "static" / "vendor"
        self.cache = root / "frontend" / ".cache"
        self.url = self.dir.as_uri() + "/"
        packages = {"": {"name": "t", "dependencies": {"leaflet": "1.9.4", "leaflet.vectorgrid": "1.3.0"}}}
        docs = [(name, version, make_tgz(files)) for name, (version, files) in DOCS_PACKAGES.items()]
        for name, version, data in (("leaflet", "1.9.4", leaflet), ("leaflet.vectorgrid", "1.3.0", vectorgrid), *docs):
            path = self.dir / name / "-" / f"{name}-{version}.tgz"
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
            packages[f"node_modules/{name}"] = {"version": version,
                                                "integrity": (integrity or {}).get(name, sri(data))}
        self.lock.parent.mkdir(parents=True)
        self.lock.write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))

    def run(self, registry: str | None = None, fetch=None, cache: bool = True) -> bool:
        kwargs = {"fetch": fetch} if fetch else {}
        return fa.fetch_assets(self.lock, self.vendor, self.cache if cache else None,
                               registry or self.url, **kwargs)


def vendor_files(vendor: Path) -> dict[str, bytes]:
    return {p.relative_to(vendor).as_posix(): p.read_bytes()
            for p in sorted(vendor.rglob("*")) if p.is_file() and p.name != fa.STAMP}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".vendor-"))


@pytest.fixture
def good(tmp_path) -> Registry:
    return Registry(tmp_path, make_tgz(LEAFLET_FILES), make_tgz(VECTORGRID_FILES))


# --- integrity -------------------------------------------------------------------------------


def test_integrity_accepts_the_pinned_hash_and_refuses_any_other():
    data = b"tarball bytes"
    fa.check_integrity(data, sri(data), "x")
    fa.check_integrity(data, f"sha1-AAAA {sri(data)}", "x")  # the strongest hash listed is the one checked
    with pytest.raises(fa.AssetError, match="integrity mismatch"):
        fa.check_integrity(data + b"!", sri(data), "x")
    with pytest.raises(fa.AssetError, match="integrity mismatch"):
        fa.check_integrity(data, f"{sri(b'other')} sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode(), "x")
    with pytest.raises(fa.AssetError, match="no sha512"):
        fa.check_integrity(data, "sha1-" + base64.b64encode(hashlib.sha1(data).digest()).decode(), "x")


def test_a_tampered_tarball_writes_nothing_and_keeps_the_previous_assets(tmp_path):
    leaflet = make_tgz(LEAFLET_FILES)
    registry = Registry(tmp_path, leaflet, make_tgz(VECTORGRID_FILES),
                        integrity={"leaflet": sri(leaflet + b"tampered")})
    registry.vendor.mkdir(parents=True)
    (registry.vendor / "previous.js").write_text("kept")

    with pytest.raises(fa.AssetError, match="leaflet 1.9.4: integrity mismatch"):
        registry.run()

    assert vendor_files(registry.vendor) == {"previous.js": b"kept"}
    assert leftovers(registry.vendor.parent) == []
    assert not (registry.cache / "leaflet-1.9.4.tgz").exists()  # a bad download is not cached


# --- member selection ------------------------------------------------------------------------


def test_only_the_named_members_are_extracted_and_hostile_names_are_ignored(tmp_path):
    hostile = {
        **LEAFLET_FILES,
        "package/dist/leaflet-src.js": b"not wanted",
        "package/package.json": b"{}",
        "../escape.js": b"outside",
        "/tmp/absolute.js": b"outside",
        "package/../escape2.js": b"outside",
        "package/dist/images/../../../escape3.png": b"outside",
        "package/dist/images/sub/nested.png": b"nested",
        "package/dist/images/.hidden": b"hidden",
        "other/dist/leaflet.js": b"not under package/",
    }
    registry = Registry(tmp_path, make_tgz(hostile), make_tgz(VECTORGRID_FILES))

    assert registry.run() is True

    assert vendor_files(registry.vendor) == EXPECTED
    assert sorted(p.name for p in tmp_path.rglob("escape*")) == []
    assert leftovers(registry.vendor.parent) == []


def test_a_link_in_place_of_a_named_file_is_refused(tmp_path):
    files = dict(LEAFLET_FILES)
    del files["package/dist/leaflet.js"]
    registry = Registry(tmp_path, make_tgz(files, links={"package/dist/leaflet.js": "/etc/passwd"}),
                        make_tgz(VECTORGRID_FILES))
    with pytest.raises(fa.AssetError, match="not a regular file"):
        registry.run()
    assert not registry.vendor.exists()
    assert leftovers(registry.vendor.parent) == []


def test_a_missing_named_file_is_an_error(tmp_path):
    files = {k: v for k, v in LEAFLET_FILES.items() if not k.endswith("leaflet.css")}
    registry = Registry(tmp_path, make_tgz(LEAFLET_FILES), make_tgz({"package/README.md": b""}))
    with pytest.raises(fa.AssetError, match="has no package/dist/Leaflet.VectorGrid.bundled.min.js"):
        registry.run()
    registry = Registry(tmp_path / "2", make_tgz(files), make_tgz(VECTORGRID_FILES))
    with pytest.raises(fa.AssetError, match="has no package/dist/leaflet.css"):
        registry.run()
    assert not registry.vendor.exists()


# --- idempotence, cache, registry ------------------------------------------------------------


def test_second_run_does_nothing_and_the_cache_works_offline(good):
    assert good.run() is True
    assert vendor_files(good.vendor) == EXPECTED

    def no_network(url):
        raise AssertionError(f"fetched {url}")

    assert good.run(fetch=no_network) is False  # stamp matches the lock file: nothing to do

    (good.vendor / "leaflet" / "leaflet.js").unlink()  # damaged: fetched again, from the cache
    assert good.run(fetch=no_network) is True
    assert vendor_files(good.vendor) == EXPECTED

    good.lock.write_text(good.lock.read_text() + "\n")  # a changed lock file is fetched again
    assert good.run(fetch=no_network) is True


def test_a_corrupt_cache_entry_is_downloaded_again(good):
    good.cache.mkdir(parents=True)
    (good.cache / "leaflet-1.9.4.tgz").write_bytes(b"garbage")
    assert good.run() is True
    assert vendor_files(good.vendor) == EXPECTED
    assert (good.cache / "leaflet-1.9.4.tgz").read_bytes() == (good.dir / "leaflet/-/leaflet-1.9.4.tgz").read_bytes()


def test_tarball_urls_follow_the_registry_setting():
    plain = fa.Locked("leaflet", "1.9.4", "sha512-x", None)
    scoped = fa.Locked("@scope/pkg", "2.0.0", "sha512-x", None)
    resolved = fa.Locked("leaflet", "1.9.4", "sha512-x", "https://registry.npmjs.org/leaflet/-/leaflet-1.9.4.tgz")
    assert fa.tarball_url(plain, None) == "https://registry.npmjs.org/leaflet/-/leaflet-1.9.4.tgz"
    assert fa.tarball_url(scoped, "https://mirror.example/npm/") == "https://mirror.example/npm/@scope/pkg/-/pkg-2.0.0.tgz"
    assert fa.tarball_url(resolved, None) == resolved.resolved
    assert fa.tarball_url(resolved, "https://mirror.example/npm") == "https://mirror.example/npm/leaflet/-/leaflet-1.9.4.tgz"
    env = {"npm_config_registry": "https://a.example/", "HOTSPOTS_NPM_REGISTRY": "https://b.example/"}
    assert fa.registry_from_env(env) == "https://b.example/"
    assert fa.registry_from_env({"npm_config_registry": "https://a.example/"}) == "https://a.example/"
    assert fa.registry_from_env({}) is None


def test_network_failure_is_a_clear_error_and_exit_status(good, monkeypatch, capsys):
    monkeypatch.setattr(fa.time, "sleep", lambda s: None)
    status = fa.main(["--lock", str(good.lock), "--dest", str(good.vendor), "--no-cache",
                      "--registry", (good.dir / "nowhere").as_uri()])
    assert status == 1
    err = capsys.readouterr().err
    assert "could not download" in err and "leaflet-1.9.4.tgz" in err and "HOTSPOTS_NPM_REGISTRY" in err
    assert not good.vendor.exists()


def test_a_vendored_file_that_no_longer_holds_a_rewritten_address_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(DOCS_PACKAGES, "redoc", ("2.5.4", {"package/bundles/redoc.standalone.js": b"/* moved */",
                                                          "package/LICENSE": b"MIT"}))
    registry = Registry(tmp_path, make_tgz(LEAFLET_FILES), make_tgz(VECTORGRID_FILES))
    with pytest.raises(fa.AssetError, match="no longer holds 'https://cdn.redoc.ly"):
        registry.run()
    assert not registry.vendor.exists()


def test_the_project_lock_file_pins_what_the_pages_need():
    packages = fa.read_lock(ROOT / "app" / "frontend" / "package-lock.json", fa.ASSETS)
    assert {(p.name, p.version) for p in packages} == {("leaflet", "1.9.4"), ("leaflet.vectorgrid", "1.3.0"),
                                                       ("swagger-ui-dist", "5.35.0"), ("redoc", "2.5.4")}
    assert all(p.integrity.startswith("sha512-") for p in packages)
