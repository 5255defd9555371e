"""Typed dependencies: each parses *and* validates one thing a handler needs.

Dependencies that do no I/O are ``async def`` so FastAPI runs them inline
instead of handing each to the thread pool (a measurable cost per tile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, StringConstraints
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth import Principal
from app.auth.sign_in import SignIn, end_restriction
from app.db import RequestSessions
from app.errors import BadRequest, Forbidden, NotAuthenticated, SignInRequired, TooManyRequests
from app.privacy import Audience, audience_for
from app.security import role_allows
from app.settings import Settings
from app.store.backends import Backend, Store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


# On the embedded store a request that writes waits this long for SQLite's one write lock (held by an
# import, say), then answers 503 "busy" rather than hang; background work waits longer.
REQUEST_WAIT_S = 10


def get_session(request: Request) -> Generator[Session, None, None]:
    sessions = request.app.state.sessionmaker
    opened = sessions() if not isinstance(sessions, RequestSessions) else sessions(
        read_only=request.method in ("GET", "HEAD"), wait_s=REQUEST_WAIT_S)
    with opened as session:
        try:
            yield session
        finally:
            end_restriction(_backend(request), session)


def _backend(request: Request) -> Backend:
    return request.app.state.backend


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_store(request: Request, session: SessionDep) -> Store:
    """The store of the service's backend (chosen at start-up), working through the request's session."""
    return _backend(request).bind(session)


StoreDep = Annotated[Store, Depends(get_store)]

_bearer = HTTPBearer(auto_error=False, description="API token, e.g. `Authorization: Bearer hs_...`")


async def get_sign_in(request: Request) -> SignIn:
    return SignIn.for_app(request.app.state)


SignInDep = Annotated[SignIn, Depends(get_sign_in)]


def get_principal(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is asking: the bearer token if one is sent, else the browser session cookie (app/auth/sign_in.py).

    Failed tokens count towards the sign-in limits (per token and address; app/ratelimit.py) and
    are audited. A valid token is always let in.
    """
    token = credentials.credentials if credentials is not None else None
    return SignIn.for_app(request.app.state).principal(store, request, token)


def get_page_principal(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """As ``get_principal``, but a browser page without a session is sent to the sign-in page."""
    try:
        return get_principal(request, store, credentials)
    except NotAuthenticated as exc:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(f"/sign-in?{urlencode({'next': target})}") from exc


CurrentUser = Annotated[Principal, Depends(get_principal)]


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]


def require_role(role: str, *, page: bool = False) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through users with ``role`` or a higher one (``page``: redirect to sign in)."""

    def allow(principal: Principal) -> Principal:
        if not role_allows(principal.role, role):
            raise Forbidden(f"This needs the '{role}' role or higher; your role is '{principal.role}'.")
        return principal

    async def check(principal: CurrentUser) -> Principal:
        return allow(principal)

    async def check_page(principal: PagePrincipal) -> Principal:
        return allow(principal)

    chosen = check_page if page else check
    chosen.required_role = role  # type: ignore[attr-defined]  # read by the route-role tests
    return chosen


def limit_heavy(request: Request, principal: Principal, kind: str) -> None:
    """Count one expensive request (analysis, export) for this user; 429 over the limit."""
    wait = request.app.state.limits["heavy"].hit(f"{kind}:{principal.user_id}")
    if wait is not None:
        raise TooManyRequests(f"Too many {kind} requests; wait {wait} s and try again.", wait)


def heavy(kind: str) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """A dependency limiting expensive requests of one kind per user."""

    async def check(request: Request, principal: CurrentUser) -> Principal:
        limit_heavy(request, principal, kind)
        return principal

    return check


async def get_audience(principal: CurrentUser, settings: SettingsDep) -> Audience:
    return audience_for(principal, settings)


AudienceDep = Annotated[Audience, Depends(get_audience)]

# Aggregates: partners and, when public access is on, anonymous visitors too.
Reader = Annotated[Principal, Depends(require_role("public"))]
PageReader = Annotated[Principal, Depends(require_role("public", page=True))]
Analyst = Annotated[Principal, Depends(require_role("analyst"))]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
GisStaff = Annotated[Principal, Depends(require_role("gis"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
PageViewer = Annotated[Principal, Depends(require_role("viewer", page=True))]
PageAnalyst = Annotated[Principal, Depends(require_role("analyst", page=True))]


# Ids are PostgreSQL bigints; a larger number can name nothing.
MAX_ID = 2**63 - 1
# Names, categories, sources, layer and column names: a longer value is a mistake or an attack.
MAX_NAME_CHARS = 200


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("contains a NUL character, which no name can hold")
    return value


# A short text field of a form or query: no NUL character, at most MAX_NAME_CHARS characters.
ShortText = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(_no_nul)]
LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]


async def parse_bbox(
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)",
                                      examples=["-62.86,17.09,-62.53,17.42"])] = None,
) -> tuple[float, float, float, float] | None:
    if bbox is None or bbox.strip() == "":
        return None
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError as exc:
        raise BadRequest("bbox must be four numbers: west,south,east,north (for example -62.86,17.09,-62.53,17.42).") from exc
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise BadRequest("bbox is out of range: longitudes must be within -180..180 and latitudes within -90..90.")
    if west >= east or south >= north:
        raise BadRequest("bbox must have west < east and south < north.")
    return west, south, east, north


BBox = Annotated[tuple[float, float, float, float] | None, Depends(parse_bbox)]


@dataclass(frozen=True)
class DateRange:
    start: datetime | None
    end: datetime | None


async def parse_date_range(
    settings: SettingsDep,
    start: Annotated[datetime | None, Query(description="From this time (inclusive); local time if no offset.")] = None,
    end: Annotated[datetime | None, Query(description="Up to this time (exclusive); local time if no offset.")] = None,
) -> DateRange:
    start = _localise(start, settings)
    end = _localise(end, settings)
    if start and end and start >= end:
        raise BadRequest("start must be before end.")
    return DateRange(start, end)


def _localise(value: datetime | None, settings: Settings) -> datetime | None:
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=settings.zone)
    if value is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise BadRequest(f"{value.isoformat()} is past the last date that can be stored (year 9999); "
                             "give a real date.") from None
    return value


DateRangeDep = Annotated[DateRange, Depends(parse_date_range)]
