#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests (Playwright drives it as the
# system browser; `playwright install` would download its own build, which
# cannot be fetched here). Quiet when it is already there.
set -euo pipefail
if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing Chromium for the browser tests =="
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium is not installed and cannot be installed here; the browser tests will be skipped." >&2
fi
