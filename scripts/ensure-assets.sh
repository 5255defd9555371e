#!/usr/bin/env bash
# Front-end assets, installed at install time and served by the service itself
# (no CDN): `npm ci` in frontend/ from its lock file, then copy the files the
# pages use into static/vendor/. Idempotent; quiet when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Node.js and npm =="
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "npm is not installed; install Node.js and npm to fetch the map assets." >&2
    exit 1
  fi
fi

stamp=frontend/node_modules/.installed-$(sha1sum frontend/package-lock.json | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "== installing front-end assets (npm ci) =="
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$stamp"
fi

vendor=static/vendor
if [ ! -f "$vendor/.from-$(basename "$stamp")" ]; then
  rm -rf "$vendor"
  mkdir -p "$vendor/leaflet" "$vendor/leaflet.vectorgrid"
  cp -r frontend/node_modules/leaflet/dist/leaflet.js frontend/node_modules/leaflet/dist/leaflet.js.map \
        frontend/node_modules/leaflet/dist/leaflet.css frontend/node_modules/leaflet/dist/images \
        frontend/node_modules/leaflet/LICENSE "$vendor/leaflet/"
  cp frontend/node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js "$vendor/leaflet.vectorgrid/"
  touch "$vendor/.from-$(basename "$stamp")"
fi
