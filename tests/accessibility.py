"""axe-core for the browser tests: fetched as app/frontend/package-lock.json pins it, never served.

The tarball is downloaded (or read from app/frontend/.cache/) and checked against the lock
file's integrity hash by the same code that installs Leaflet (app/assets.py); its
``axe.min.js`` is injected into the page under test by Playwright, so no page of the service
ever links to it.
"""

from __future__ import annotations

import io
import tarfile
from functools import cache

from app import assets

SERIOUS = ("serious", "critical")


@cache
def axe_source() -> str:
    """The text of axe-core's ``axe.min.js`` from the locked, integrity-checked tarball."""
    (locked,) = assets.read_lock(assets.LOCK, ["axe-core"])
    data = assets.tarball(locked, assets.registry_from_env(), assets.CHECKOUT_CACHE)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None, "axe-core's tarball has no axe.min.js"
        return member.read().decode("utf-8")


def serious_violations(page, exclude: tuple[str, ...] = (), skip_rules: tuple[str, ...] = ()) -> list[str]:
    """Run axe on the page (WCAG 2 A and AA rules); its serious and critical violations, in words.

    ``exclude``: CSS selectors axe leaves out; ``skip_rules``: rules not run (for vendored widgets this
    project does not write, named where they are used)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    result = page.evaluate(
        """async ([context, skip]) => await axe.run(context || document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
             rules: Object.fromEntries(skip.map(rule => [rule, {enabled: false}]))})""",
        [context, list(skip_rules)])
    found = []
    for violation in result["violations"]:
        if violation["impact"] in SERIOUS:
            targets = "; ".join(", ".join(node["target"]) for node in violation["nodes"][:5])
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found
