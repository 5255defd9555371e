"""Creating users and issuing tokens."""

from __future__ import annotations

from app.errors import BadRequest, Conflict
from app.security import hash_token, new_token
from app.store.backends import Store
from models.users import ROLES


def create_user_with_token(store: Store, name: str, role: str, label: str | None = None,
                           communities: list[str] | None = None) -> str:
    """Create ``name`` with ``role`` and return a new token (shown once, stored hashed)."""
    name = name.strip()
    if role not in ROLES:
        raise BadRequest(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if not name:
        raise BadRequest("A user needs a name.")
    if store.accounts.find_user(name) is not None:
        raise Conflict(f"A user named {name!r} already exists.")
    user = store.accounts.create_user(name, role)
    if communities:
        limit_to_communities(store, user.id, communities)
    return issue_token(store, user.id, label)


def limit_to_communities(store: Store, user_id: int, communities: list[str]) -> None:
    """A partner sees only these communities (names, so the limit survives new boundary sets)."""
    names = [c.strip() for c in communities if c and c.strip()]
    if communities and not names:
        raise BadRequest("The community names are blank; send [] to lift the limit on purpose.")
    if any(len(n) > 200 for n in names):
        raise BadRequest("Community names are at most 200 characters.")
    store.accounts.set_scope(user_id, names)
    store.session.commit()


def issue_token(store: Store, user_id: int, label: str | None = None) -> str:
    """Another token for an existing user (shown once, stored hashed)."""
    token = new_token()
    store.accounts.add_token(user_id, hash_token(token), label=label)
    store.session.commit()
    return token
