#!/usr/bin/env bash
# Front-end assets, installed at install time and served by the service itself
# (no CDN): app/assets.py downloads Leaflet and Leaflet.VectorGrid from
# the npm registry as pinned in app/frontend/package-lock.json, checks each tarball
# against the lock file's integrity hash and puts the files the pages use into
# static/vendor/. Python only: no Node.js or npm. Tarballs are kept in
# app/frontend/.cache/ so later runs work offline. HOTSPOTS_NPM_REGISTRY (or
# npm_config_registry) names a mirror. Arguments go to app/assets.py.
# Idempotent; quiet when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "$python not found; set PYTHON to a Python 3 interpreter to fetch the map assets." >&2
  exit 1
fi
exec "$python" -m app.assets "$@"
