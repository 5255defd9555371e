"""API tokens: random, shown once, stored as SHA-256 hashes; roles in rank order."""

from __future__ import annotations

import hashlib
import secrets

# Each role can do everything the roles before it can. "public" is anonymous (when enabled);
# below "analyst" every output is an aggregate (see app/privacy.py).
ROLE_RANK = {"public": 0, "partner": 1, "viewer": 2, "analyst": 3, "gis": 4, "admin": 5}
POLICE_ROLE = "analyst"
TOKEN_PREFIX = "hs_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; no salt is needed.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]


def sees_raw_data(role: str) -> bool:
    """Analysts and above see points and exact counts; everyone else gets safe aggregates."""
    return role_allows(role, POLICE_ROLE)
