"""Who is making a request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is making a request."""

    user_id: int
    name: str
    role: str
    token_id: int | None = None  # the API token it signed in with (browser sessions name it)
    communities: frozenset[str] | None = None  # a partner's scope (community names); None: all


# Anonymous visitors, when public access is on.
PUBLIC = Principal(user_id=0, name="public", role="public")
