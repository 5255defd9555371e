"""Browser sessions: an HMAC-signed cookie that names an API token by its id.

The cookie never holds the token. It carries the token's database id, an expiry
and a random nonce, signed with a key derived from ``settings.secret_key``; each
request checks the signature and expiry and then that the token is still live,
so revoking a token (or disabling its user) ends its browser sessions too.
The cookie is HttpOnly, SameSite=Lax and Secure when the request came over https.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from app.settings import PLACEHOLDER_SECRETS, Settings

COOKIE_NAME = "hotspots_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# With the placeholder secret (development, the demo) anyone could sign a cookie, so each
# process then signs with its own random key: browser sessions end when it restarts.
_PROCESS_SECRET = secrets.token_bytes(32)


def _key(settings: Settings) -> bytes:
    if settings.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
        return hashlib.sha256(b"hotspots browser session v1\0" + _PROCESS_SECRET).digest()
    # A key of its own, so the session signature cannot be confused with any other use of the secret.
    return hashlib.sha256(b"hotspots browser session v1\0" + settings.secret_key.encode("utf-8")).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(token_id: int, settings: Settings, *, now: float | None = None) -> str:
    """A signed cookie value for the API token ``token_id``."""
    expires = int((now if now is not None else time.time()) + settings.session_max_age_s)
    payload = _b64(json.dumps({"t": token_id, "e": expires, "n": secrets.token_urlsafe(12)},
                              separators=(",", ":")).encode("utf-8"))
    signature = _b64(hmac.new(_key(settings), payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def token_id_from(value: str, settings: Settings, *, now: float | None = None) -> int | None:
    """The token id a cookie value names, or ``None`` if it is forged, malformed or expired."""
    try:
        payload, signature = value.split(".", 1)
        expected = _b64(hmac.new(_key(settings), payload.encode("ascii"), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        claims = json.loads(_unb64(payload))
        if int(claims["e"]) < (now if now is not None else time.time()):
            return None
        return int(claims["t"])
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None


def set_cookie(response: Response, request: Request, value: str, settings: Settings) -> None:
    response.set_cookie(COOKIE_NAME, value, max_age=settings.session_max_age_s, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def same_origin(request: Request) -> bool:
    """Did this request come from one of our own pages? (The CSRF check for cookie-authenticated writes.)

    Browsers send ``Origin`` on every cross-site and same-site POST; older ones
    may send only ``Referer``. A request with neither is refused.
    """
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin:
        return origin == own
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return False


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site (no scheme, no host), else ``default``: no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
