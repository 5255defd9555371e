#!/usr/bin/env bash
# Create the virtualenv (.venv, or $HOTSPOTS_VENV) and install the project with its test
# dependencies, quietly and only when pyproject.toml or the project's location changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HOTSPOTS_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    # Debian and Ubuntu ship venv separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== installing python3-venv =="
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      echo "Python's venv module is missing: install it (Debian/Ubuntu: sudo apt-get install python3-venv)." >&2
      exit 1
    fi
  fi
  python3 -m venv "$venv"
fi
stamp="$venv/.installed-$( (cat pyproject.toml; pwd -P) | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "== installing Python dependencies into $venv =="
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[test]"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
