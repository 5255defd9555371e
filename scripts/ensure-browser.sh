#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests (Playwright drives it as the
# system browser; `playwright install` would download its own build, which
# cannot be fetched here). Quiet when it is already there.
set -euo pipefail
# pdftoppm (poppler-utils) turns the printed PDFs of the print test into pages to look at.
needed=()
if ! { command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; }; then needed+=(chromium); fi
if ! command -v pdftoppm >/dev/null; then needed+=(poppler-utils); fi
if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${needed[*]} for the browser tests =="
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
else
  echo "${needed[*]} not installed and cannot be installed here; the browser (or print) tests will be skipped." >&2
fi
