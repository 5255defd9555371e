"""The one sign-in service: token or browser session → principal, for every way in.

The API dependency (``app.api.deps.get_principal``), the sign-in page and the
hotspot tile fast path all ask ``SignIn``, so the rules live here once:

- a bearer token is looked up by its hash; a wrong one counts towards the
  failed-attempt limits (``SignInLimits``: per token and address, per address)
  and is audited, and a valid one is always let in;
- a browser session is a signed cookie naming a live token (``app.web_sessions``);
  a write that rides on it must come from our own pages (CSRF);
- who holds a token is remembered for a few seconds (``PrincipalCache``), so
  a burst of tile requests needs no query, and forgotten at once on revocation;
- below analyst the rest of the request runs as the restricted database role
  (the SQL is in ``app.store.session_roles``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from app import web_sessions
from app.audit import client_ip, record
from app.auth.principal import PUBLIC, Principal
from app.errors import Forbidden, NotAuthenticated, TooManyRequests
from app.ratelimit import PrincipalCache, SignInLimits
from app.security import hash_token, sees_raw_data
from app.settings import Settings
from app.store.session_roles import restrict, restrict_transaction, unrestrict
from app.store.users import principal_for_token, principal_for_token_id

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from app.privacy import Audience

NOT_SIGNED_IN = ("Sign in: send your API token as 'Authorization: Bearer <token>' "
                 "(browsers: sign in at /sign-in).")


@dataclass(frozen=True)
class SignIn:
    """Sign-in as one process sees it: its settings, the remembered principals and the failure limits.

    Cheap to build: ``for_app`` makes one per request from the app's state, so a test (or an
    administrator's revocation) that replaces the cache or the limits is seen at once.
    """

    settings: Settings
    remembered: PrincipalCache
    failures: SignInLimits

    @classmethod
    def for_app(cls, state: Any) -> SignIn:
        """The service of the app whose ``state`` this is."""
        return cls(state.settings, state.principals, state.limits["failed_auth"])

    # -- who is asking ------------------------------------------------------------------------

    def principal(self, session: Session, request: Request, token: str | None) -> Principal:
        """Who is asking: the bearer ``token`` if one is sent, else the browser session cookie,
        else the public (when public access is on). Runs the rest of the request as the restricted
        role below analyst. Raises 401, 403 (a cookie write from another site) or 429."""
        if token:
            return self.restrict_below_analyst(session, self.check_token(session, request, token))
        cookie = request.cookies.get(web_sessions.COOKIE_NAME)
        principal = self._session_principal(cookie, session) if cookie else None
        if principal is None and cookie is None and self.settings.public_access:
            return self.restrict_below_analyst(session, PUBLIC)
        if principal is None:
            raise NotAuthenticated(NOT_SIGNED_IN)
        if request.method not in web_sessions.SAFE_METHODS and not web_sessions.same_origin(request):
            # The cookie rides along on cross-site requests; a write must come from our own pages (CSRF).
            raise Forbidden("This request did not come from this site's own pages; sign in again and retry.")
        return self.restrict_below_analyst(session, principal)

    def check_token(self, session: Session, request: Request, token: str, *, remember: bool = True) -> Principal:
        """The holder of an API token; a wrong token is counted and audited (401, or 429 over a limit).

        ``remember``: use and fill the principal cache (the sign-in page looks the token up afresh).
        """
        generation = self.remembered.generation  # read before the lookup: a revocation meanwhile wins
        address = client_ip(request) or "unknown"
        hashed = hash_token(token)
        wait = self.failures.retry_after(address, hashed)
        if wait is not None:
            raise TooManyRequests("Too many failed sign-in attempts with this token. Try again later.", wait)
        principal = self.remembered.get(hashed) if remember else None
        if principal is not None:
            return principal
        principal = principal_for_token(session, hashed)
        if principal is None:
            session.rollback()
            wait = self.failures.failed(address, hashed)
            record(session, action="auth.failed", outcome="refused", request=request,
                   target=request.url.path, details={"reason": "unknown or revoked token"})
            if wait is not None:
                raise TooManyRequests("Too many failed sign-in attempts from this address. Try again later.", wait)
            raise NotAuthenticated("The API token is not valid, or has been revoked.")
        session.commit()  # keep last_used_at
        if remember:
            self.remembered.put(hashed, principal, generation)
        return principal

    def remembered_principal(self, request: Request) -> Principal | None:
        """Who is asking, as ``principal`` would say, when that needs no database; else None.

        For the tile fast path: None means "ask ``principal``" (a token not yet checked, a
        cookie that does not verify, a token over its failed-attempt limit).
        """
        authorization = request.headers.get("Authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if authorization and scheme and credentials and scheme.lower() == "bearer":
            hashed = hash_token(credentials)
            if self.failures.retry_after(client_ip(request) or "unknown", hashed) is not None:
                return None  # the route answers 429
            return self.remembered.get(hashed)
        cookie = request.cookies.get(web_sessions.COOKIE_NAME)
        if cookie is None:
            return PUBLIC if self.settings.public_access else None
        return self._session_principal(cookie, None)

    def _session_principal(self, cookie: str, session: Session | None) -> Principal | None:
        """The live token's holder a session cookie names (without ``session``: only from memory)."""
        generation = self.remembered.generation
        token_id = web_sessions.token_id_from(cookie, self.settings)
        if token_id is None:
            return None
        key = f"token:{token_id}"
        principal = self.remembered.get(key)
        if principal is None and session is not None:
            principal = principal_for_token_id(session, token_id)
        if principal is not None:
            self.remembered.put(key, principal, generation)  # a session in use stays remembered
        return principal

    def forget_everyone(self) -> None:
        """Forget every remembered principal (a token was revoked or a scope changed)."""
        self.remembered.clear()

    # -- browser sessions ---------------------------------------------------------------------

    def start_browser_session(self, response: Response, request: Request, principal: Principal) -> None:
        """Set the session cookie naming the token ``principal`` signed in with (never the token)."""
        if principal.token_id is None:
            raise NotAuthenticated("Only an API token can start a browser session.")
        web_sessions.set_cookie(response, request, web_sessions.issue(principal.token_id, self.settings),
                                self.settings)

    @staticmethod
    def end_browser_session(response: Response, request: Request) -> None:
        web_sessions.clear_cookie(response, request)

    # -- the restricted database role ---------------------------------------------------------

    @staticmethod
    def restrict_below_analyst(session: Session, principal: Principal) -> Principal:
        """Below analyst, the rest of the request runs as the restricted database role."""
        if not sees_raw_data(principal.role):
            restrict(session)
        return principal


def end_restriction(session: Session) -> None:
    """At the end of a request: back to the service's own role if it ran as the restricted one."""
    if session.info.pop("restricted", False):
        session.rollback()
        unrestrict(session)


@asynccontextmanager
async def transaction_for(conn: AsyncConnection, audience: Audience) -> AsyncIterator[AsyncConnection]:
    """The async tile path's ``restrict_below_analyst``: unless the audience sees raw data, a
    transaction that runs as the restricted role and ends with it (the pool gets its own role back)."""
    if audience.raw:
        yield conn
        return
    async with conn.transaction():
        await restrict_transaction(conn)
        yield conn
