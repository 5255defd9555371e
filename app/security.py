"""API tokens: random, shown once, stored as SHA-256 hashes; roles in rank order."""

from __future__ import annotations

import hashlib
import secrets

# Each role can do everything the roles before it can.
ROLE_RANK = {"viewer": 1, "analyst": 2, "gis": 3, "admin": 4}
TOKEN_PREFIX = "hs_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; no salt is needed.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]
