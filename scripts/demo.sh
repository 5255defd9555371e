#!/usr/bin/env bash
# One command to a running demo on this machine: PostGIS, the virtualenv, a
# database, sample parishes, SYNTHETIC incidents, one analysis, the server.
set -euo pipefail
cd "$(dirname "$0")/.."
PGHOST=${PGHOST:-127.0.0.1}; PGPORT=${PGPORT:-5432}; PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
bash scripts/ensure-postgis.sh
bash scripts/ensure-venv.sh
venv=${HOTSPOTS_VENV:-.venv}
[ -f scripts/ensure-assets.sh ] && bash scripts/ensure-assets.sh
db=${HOTSPOTS_DEMO_DB:-hotspots_demo}
if ! psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${db}'" | grep -q 1; then
  psql -q -d postgres -c "CREATE DATABASE ${db}"
fi
export HOTSPOTS_DATABASE_URL=${HOTSPOTS_DATABASE_URL:-postgresql+psycopg://${PGUSER}@${PGHOST}:${PGPORT}/${db}}
exec "$venv"/bin/hotspots demo "$@"
