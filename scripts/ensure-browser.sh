#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests and the PDF briefs (Playwright drives it as the
# system browser; `playwright install` would download its own build, which cannot be fetched here),
# and poppler-utils (pdftoppm) with which the brief tests turn PDF pages into images.
# Quiet when both are already there.
set -euo pipefail
missing=()
if ! { command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; }; then
  missing+=(chromium)
fi
if ! command -v pdftoppm >/dev/null; then
  missing+=(poppler-utils)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${missing[*]} for the browser and PDF tests =="
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "${missing[*]} not installed and cannot be installed here; the browser and PDF tests will be skipped." >&2
fi
