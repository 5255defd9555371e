#!/usr/bin/env bash
# One command to a running demo with Python and nothing else: the virtualenv, the map assets
# (from the npm registry, checked against the lock file), then `hotspots demo`, which creates
# the embedded SQLite database (var/hotspots.sqlite), loads the sample parishes and SYNTHETIC
# incidents, runs the analyses and serves. With HOTSPOTS_DATABASE_URL set to a PostGIS
# database (postgresql+psycopg://...), the same demo runs there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-venv.sh
bash scripts/ensure-assets.sh
venv=${HOTSPOTS_VENV:-.venv}
exec "$venv"/bin/hotspots demo "$@"
