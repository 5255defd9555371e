#!/usr/bin/env bash
# The test command (README, .ci/run): installs what it needs, makes a throwaway
# PostGIS database, migrates it up, down to base and up again, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

bash scripts/ensure-postgis.sh
bash scripts/ensure-venv.sh
bash scripts/ensure-assets.sh
bash scripts/ensure-browser.sh
venv=${HOTSPOTS_VENV:-.venv}

db="hotspots_test_$$"
url="postgresql+psycopg://${PGUSER}@${PGHOST}:${PGPORT}/${db}"
cleanup() { psql -q -d postgres -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -q -d postgres -c "CREATE DATABASE ${db}" >/dev/null

echo "== migrations: upgrade, downgrade to base, upgrade =="
HOTSPOTS_DATABASE_URL="$url" "$venv"/bin/hotspots db upgrade head
HOTSPOTS_DATABASE_URL="$url" "$venv"/bin/hotspots db downgrade base
HOTSPOTS_DATABASE_URL="$url" "$venv"/bin/hotspots db upgrade head

echo "== ruff (app/, spatial/) =="
"$venv"/bin/ruff check app spatial
echo "== mypy (app/, spatial/) =="
"$venv"/bin/mypy

echo "== pytest =="
set +e
HOTSPOTS_TEST_DATABASE_URL="$url" "$venv"/bin/python -m pytest "$@"
status=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure here.
exit $status
