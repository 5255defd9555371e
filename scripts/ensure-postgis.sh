#!/usr/bin/env bash
# Make sure PostgreSQL with PostGIS is installed and running (Debian, as root).
set -euo pipefail
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}

if ! compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing PostGIS (postgresql-15-postgis-3) =="
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
  else
    echo "PostGIS is not installed; install postgresql-15-postgis-3 (or point PGHOST at a PostGIS server)." >&2
    exit 1
  fi
fi
if ! command -v ogr2ogr >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >/dev/null || true
fi

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "== starting PostgreSQL =="
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -h "$PGHOST" -p "$PGPORT"
fi
