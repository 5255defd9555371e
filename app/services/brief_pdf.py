"""Printing a brief's HTML to PDF with headless Chromium, driven by Playwright.

Playwright is the optional extra ``pdf`` (``pip install 'hotspots[pdf]'``) and Chromium a system
package (Debian's ``chromium``; ``HOTSPOTS_CHROMIUM_PATH`` names another). Without either, asking for
a PDF is refused with a clear 503 and the HTML brief still prints from the browser.

The page is loaded from the HTML text itself (``set_content``), with the network off: everything
a brief shows is inline (SVG, styles), so the printer never reaches anything, local or remote.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.errors import PrintingUnavailable
from app.settings import Settings

NOT_INSTALLED = ("PDF printing is not installed on this server; open the brief (without .pdf) and use the "
                 "browser's Print, choosing A4. (The server needs the 'pdf' extra and Chromium: see the README.)")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PRINT_TIMEOUT_MS = 60_000


def chromium_path(settings: Settings) -> str | None:
    """The Chromium to print with: the configured one, else the system's, else None (Playwright's own)."""
    if settings.chromium_path:
        return settings.chromium_path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).is_file() else None


def html_to_pdf(page_html: str, settings: Settings) -> bytes:
    """The A4 PDF of ``page_html`` as Chromium prints it (the page's own print stylesheet applies)."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise PrintingUnavailable(NOT_INSTALLED) from exc
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=chromium_path(settings), args=CHROMIUM_ARGS,
                                                 headless=True)
        except PlaywrightError as exc:  # no browser where Playwright looked
            raise PrintingUnavailable(NOT_INSTALLED) from exc
        try:
            context = browser.new_context(offline=True, java_script_enabled=False)
            page = context.new_page()
            page.set_content(page_html, wait_until="load", timeout=PRINT_TIMEOUT_MS)
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()
