"""Fetch the map's front-end assets into static/vendor/ with Python alone (no Node.js, no npm).

app/frontend/package-lock.json (shipped inside the package) stays the pinned source of truth
(update it with npm if you like: ``npm install --package-lock-only leaflet@X`` in app/frontend/). For each package the pages use, this
script downloads the tarball from the npm registry, checks it against the lock file's
``integrity`` (SRI, sha512) before reading anything from it, and writes only the named files into
a temporary directory beside static/vendor/, which then replaces static/vendor/ in one rename.
A stamp in static/vendor/ makes a second run with the same lock file do nothing.

Leaflet.VectorGrid's ``Leaflet.VectorGrid.bundled.min.js`` already contains pbf, vector-tile,
topojson-client and whatwg-fetch, and uses the global ``L``; no other package is needed.

Environment:
  HOTSPOTS_NPM_REGISTRY, else npm_config_registry   registry (mirror) base URL;
                                                    default https://registry.npmjs.org/
Tarballs are kept in app/frontend/.cache/ in a checkout, or <data dir>/npm-cache when installed
(``--cache-dir``; ``--no-cache`` to keep none), so a second run, or a run after the vendor
directory was removed, works offline.

Run it as ``python3 -m app.assets`` (scripts/ensure-assets.sh) or let ``hotspots serve`` and
``hotspots demo`` call :func:`ensure_assets` on start.

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path(__file__).resolve().parent / "frontend" / "package-lock.json"
CHECKOUT_CACHE = Path(__file__).resolve().parent / "frontend" / ".cache"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
STAMP = ".fetched-assets"
MAX_TARBALL_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 16 * 1024 * 1024
TIMEOUT_S = 60
ATTEMPTS = 3

# What the pages use (scripts/ensure-assets.sh copied the same files when it ran npm):
# package name -> (directory under static/vendor/, {member under package/: file name},
#                  {directory under package/: subdirectory}). A directory entry takes that
# directory's regular files with plain names, not its subdirectories (like `cp -r` of
# leaflet/dist/images, which has none).
ASSETS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "leaflet": (
        "leaflet",
        {
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.js.map": "leaflet.js.map",
            "dist/leaflet.css": "leaflet.css",
            "LICENSE": "LICENSE",
        },
        {"dist/images": "images"},
    ),
    "leaflet.vectorgrid": (
        "leaflet.vectorgrid",
        {"dist/Leaflet.VectorGrid.bundled.min.js": "Leaflet.VectorGrid.bundled.min.js"},
        {},
    ),
    # The API documentation at /docs and /redoc (app/api/routes/docs.py).
    "swagger-ui-dist": (
        "swagger-ui",
        {"swagger-ui-bundle.js": "swagger-ui-bundle.js", "swagger-ui.css": "swagger-ui.css", "LICENSE": "LICENSE"},
        {},
    ),
    "redoc": (
        "redoc",
        {"bundles/redoc.standalone.js": "redoc.standalone.js", "LICENSE": "LICENSE"},
        {},
    ),
}

# Outside addresses inside a vendored file that the page would otherwise ask for at run time, each
# replaced after the tarball passed its integrity check (the only change made to a vendored file):
# member -> ((text, replacement), ...). ReDoc draws its makers' logo from their CDN; the
# Content-Security-Policy would block it anyway, but an offline page should not even try.
REWRITES: dict[str, tuple[tuple[str, str], ...]] = {
    "redoc:bundles/redoc.standalone.js": (("https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,"),),
}

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SRI_STRENGTH = {"sha512": 3, "sha384": 2, "sha256": 1}


class AssetError(Exception):
    """A failure with a message meant for the person running the script."""


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    integrity: str
    resolved: str | None


# --- the lock file ---------------------------------------------------------------------------


def read_lock(lock_path: Path, names) -> list[Locked]:
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssetError(f"cannot read {lock_path}: {exc}") from exc
    packages = lock.get("packages")
    found = []
    for name in names:
        if packages is not None:  # lockfileVersion 2 and 3
            entry = packages.get(f"node_modules/{name}")
        else:  # lockfileVersion 1
            entry = (lock.get("dependencies") or {}).get(name)
        if not entry or not entry.get("version"):
            raise AssetError(f"{name} is not in {lock_path}; run `npm install` in app/frontend/ to update the lock")
        if not entry.get("integrity"):
            raise AssetError(f"{name} has no integrity hash in {lock_path}; refusing to fetch it unchecked")
        found.append(Locked(name, entry["version"], entry["integrity"], entry.get("resolved")))
    return found


def lock_digest(lock_path: Path) -> str:
    """What the stamp records: the lock file and the list of files taken from it."""
    h = hashlib.sha256(lock_path.read_bytes())
    h.update(json.dumps(ASSETS, sort_keys=True).encode())
    h.update(json.dumps(REWRITES, sort_keys=True).encode())
    return h.hexdigest()


# --- where and how to download ---------------------------------------------------------------


def registry_from_env(environ=os.environ) -> str | None:
    return environ.get("HOTSPOTS_NPM_REGISTRY") or environ.get("npm_config_registry") or None


def tarball_url(pkg: Locked, registry: str | None) -> str:
    """The tarball's URL: the lock's `resolved`, with its registry swapped for `registry` if set.

    Without `resolved` (npm can leave it out) it is built the way npm publishes tarballs:
    <registry>/<name>/-/<name without scope>-<version>.tgz.
    """
    marker = f"/{pkg.name}/-/"
    if pkg.resolved and (registry is None or marker not in pkg.resolved):
        return pkg.resolved
    base = (registry or DEFAULT_REGISTRY).rstrip("/")
    if pkg.resolved:
        return base + pkg.resolved[pkg.resolved.index(marker):]
    basename = pkg.name.rsplit("/", 1)[-1]
    return f"{base}/{pkg.name}/-/{basename}-{pkg.version}.tgz"


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "hotspots-fetch-assets", "Accept": "*/*"})
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                data = response.read(MAX_TARBALL_BYTES + 1)
            if len(data) > MAX_TARBALL_BYTES:
                raise AssetError(f"{_redact(url)} is larger than {MAX_TARBALL_BYTES} bytes; refusing it")
            return data
        except urllib.error.HTTPError as exc:
            last = exc
            if exc.code < 500 and exc.code != 429:  # 404 and the like will not get better
                break
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if attempt + 1 < ATTEMPTS:
            time.sleep(1 + 2 * attempt)
    reason = getattr(last, "reason", None) or last
    raise AssetError(
        f"could not download {_redact(url)}: {reason}. The map assets come from the npm registry; "
        "check the network (or a proxy: https_proxy), or set HOTSPOTS_NPM_REGISTRY to a mirror."
    )


# --- integrity -------------------------------------------------------------------------------


def check_integrity(data: bytes, integrity: str, what: str) -> None:
    """Raise unless `data` matches the strongest sha-2 hash of an SRI string ("sha512-<base64>")."""
    best: tuple[int, str, list[str]] | None = None
    for token in integrity.split():
        algorithm, _, value = token.partition("-")
        algorithm = algorithm.lower()
        if algorithm not in SRI_STRENGTH or not value:
            continue
        value = value.split("?", 1)[0]  # SRI options
        if best is None or SRI_STRENGTH[algorithm] > best[0]:
            best = (SRI_STRENGTH[algorithm], algorithm, [value])
        elif SRI_STRENGTH[algorithm] == best[0]:
            best[2].append(value)
    if best is None:
        raise AssetError(f"{what}: the lock file's integrity {integrity!r} has no sha512/sha384/sha256 hash")
    _, algorithm, expected = best
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if not any(hmac.compare_digest(actual, value) for value in expected):
        raise AssetError(
            f"{what}: integrity mismatch: the lock file says {algorithm}-{expected[0]}, "
            f"the download is {algorithm}-{actual}. Nothing was written."
        )


def tarball(pkg: Locked, registry: str | None, cache_dir: Path | None,
            fetch: Callable[[str], bytes] = download) -> bytes:
    """The verified tarball, from the cache when it holds a good copy, else from the registry."""
    what = f"{pkg.name} {pkg.version}"
    cached = cache_dir / f"{pkg.name.replace('/', '+')}-{pkg.version}.tgz" if cache_dir else None
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
        try:
            check_integrity(data, pkg.integrity, what)
            return data
        except AssetError:
            print(f"fetch_assets: cached {cached} does not match the lock file; downloading again", file=sys.stderr)
    data = fetch(tarball_url(pkg, registry))
    check_integrity(data, pkg.integrity, what)
    if cached is not None:
        tmp = None
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, cached)
        except OSError as exc:  # a cache that cannot be written is not fatal
            print(f"fetch_assets: not caching {what}: {exc}", file=sys.stderr)
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
    return data


# --- extraction ------------------------------------------------------------------------------


def select_members(archive: tarfile.TarFile, files: dict[str, str], dirs: dict[str, str], what: str):
    """Pairs (member, relative destination) for the named files and directories, and nothing else.

    Only regular files are taken (no links, devices, directories); every name is matched
    exactly under package/, so `..`, absolute paths and anything not listed never get a say.
    """
    wanted_files = {f"package/{src}": dest for src, dest in files.items()}
    wanted_dirs = {f"package/{src}/": dest for src, dest in dirs.items()}
    chosen: dict[str, tuple[tarfile.TarInfo, str]] = {}
    for member in archive.getmembers():
        name = member.name
        if name in wanted_files:
            dest = wanted_files[name]
        else:
            prefix = next((p for p in wanted_dirs if name.startswith(p)), None)
            if prefix is None:
                continue
            rest = name[len(prefix):]
            if not SAFE_NAME.match(rest):  # a subdirectory, or a name that is not plain: skip
                continue
            dest = f"{wanted_dirs[prefix]}/{rest}"
        if not member.isreg():
            raise AssetError(f"{what}: {name} is not a regular file in the tarball; refusing it")
        if member.size > MAX_MEMBER_BYTES:
            raise AssetError(f"{what}: {name} is {member.size} bytes; refusing it")
        if dest in chosen:
            raise AssetError(f"{what}: {name} appears twice in the tarball; refusing it")
        chosen[dest] = (member, dest)
    missing = sorted(set(wanted_files) - {m.name for m, _ in chosen.values()})
    missing += [p for p in wanted_dirs if not any(m.name.startswith(p) for m, _ in chosen.values())]
    if missing:
        raise AssetError(f"{what}: the tarball has no {', '.join(missing)}")
    return sorted(chosen.values(), key=lambda pair: pair[1])


def extract(data: bytes, pkg: Locked, target: Path) -> None:
    _, files, dirs = ASSETS[pkg.name]
    what = f"{pkg.name} {pkg.version}"
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member, dest in select_members(archive, files, dirs, what):
                out = target / dest
                if not out.resolve().is_relative_to(target.resolve()):  # belt and braces
                    raise AssetError(f"{what}: {member.name} would land outside {target}")
                out.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is None:
                    raise AssetError(f"{what}: cannot read {member.name}")
                rewrites = REWRITES.get(f"{pkg.name}:{member.name.removeprefix('package/')}")
                with source, open(out, "xb") as sink:
                    if rewrites is None:
                        shutil.copyfileobj(source, sink)
                        continue
                    text = source.read().decode("utf-8")
                    for old, new in rewrites:
                        if old not in text:
                            raise AssetError(f"{what}: {member.name} no longer holds {old!r}; update REWRITES")
                        text = text.replace(old, new)
                    sink.write(text.encode("utf-8"))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise AssetError(f"{what}: cannot extract from the tarball: {exc}") from exc


# --- the whole job ---------------------------------------------------------------------------


def expected_files(vendor: Path) -> list[Path]:
    return [vendor / directory / name for directory, files, _ in ASSETS.values() for name in files.values()]


def up_to_date(vendor: Path, digest: str) -> bool:
    stamp = vendor / STAMP
    try:
        if stamp.read_text().strip() != digest:
            return False
    except OSError:
        return False
    return all(path.is_file() for path in expected_files(vendor))


def fetch_assets(lock_path: Path, vendor: Path, cache_dir: Path | None, registry: str | None,
                 fetch: Callable[[str], bytes] = download, force: bool = False) -> bool:
    """Fill `vendor` from the lock file. Returns False when it was already up to date."""
    digest = lock_digest(lock_path)
    if not force and up_to_date(vendor, digest):
        return False
    packages = read_lock(lock_path, ASSETS)
    # Every tarball is downloaded and verified before anything is extracted.
    tarballs = [(pkg, tarball(pkg, registry, cache_dir, fetch)) for pkg in packages]

    vendor.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=vendor.parent, prefix=f".{vendor.name}-new-"))
    old: Path | None = None
    try:
        for pkg, data in tarballs:
            extract(data, pkg, staging / ASSETS[pkg.name][0])
        (staging / STAMP).write_text(digest + "\n")
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the server may run as another user
        if vendor.exists() or vendor.is_symlink():
            old = Path(tempfile.mkdtemp(dir=vendor.parent, prefix=f".{vendor.name}-old-"))
            os.replace(vendor, old / vendor.name)
        os.replace(staging, vendor)
    except BaseException:
        if old is not None and not vendor.exists():  # put the previous copy back
            os.replace(old / vendor.name, vendor)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return True


def ensure_assets(vendor: Path, cache_dir: Path | None, say: Callable[[str], None] = print) -> None:
    """Make sure ``vendor`` holds the map assets of the shipped lock file, fetching them if not.

    Raises
    ------
    AssetError
        When they are missing and cannot be fetched (no registry, no cache): the caller must
        stop rather than serve map pages without Leaflet.
    """
    if up_to_date(vendor, lock_digest(LOCK)):
        return
    say(f"Fetching the map's assets (Leaflet) into {vendor} from the npm registry, checked against the "
        "lock file; this happens once.")
    try:
        fetch_assets(LOCK, vendor, cache_dir, registry_from_env(), force=True)
    except (AssetError, OSError) as exc:
        raise AssetError(f"The map's assets are missing from {vendor} and could not be fetched ({exc}). "
                         "Allow access to the npm registry (or set HOTSPOTS_NPM_REGISTRY to a mirror) and "
                         "start again, or run `python3 -m app.assets --dest <static dir>/vendor` where "
                         "the registry can be reached.") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--dest", type=Path, default=ROOT / "static" / "vendor")
    parser.add_argument("--cache-dir", type=Path, default=CHECKOUT_CACHE,
                        help="where tarballs are kept for offline runs (default app/frontend/.cache)")
    parser.add_argument("--no-cache", action="store_true", help="keep no tarballs")
    parser.add_argument("--registry", help="npm registry base URL (default: $HOTSPOTS_NPM_REGISTRY, "
                                           "$npm_config_registry, else https://registry.npmjs.org/)")
    parser.add_argument("--force", action="store_true", help="fetch even when the stamp says up to date")
    args = parser.parse_args(argv)

    registry = args.registry or registry_from_env()
    cache_dir = None if args.no_cache else args.cache_dir
    try:
        if up_to_date(args.dest, lock_digest(args.lock)) and not args.force:
            return 0
        print("== installing front-end assets (npm registry, checked against app/frontend/package-lock.json) ==")
        fetch_assets(args.lock, args.dest, cache_dir, registry, force=True)
    except AssetError as exc:
        print(f"fetch_assets: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fetch_assets: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
