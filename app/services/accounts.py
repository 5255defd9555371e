"""Creating users and issuing tokens."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.errors import BadRequest, Conflict
from app.security import hash_token, new_token
from models.users import ROLES
from app.store import users as user_store


def create_user_with_token(session: Session, name: str, role: str, label: str | None = None,
                           communities: list[str] | None = None) -> str:
    """Create ``name`` with ``role`` and return a new token (shown once, stored hashed)."""
    name = name.strip()
    if role not in ROLES:
        raise BadRequest(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if not name:
        raise BadRequest("A user needs a name.")
    if user_store.find_user(session, name) is not None:
        raise Conflict(f"A user named {name!r} already exists.")
    user = user_store.create_user(session, name, role)
    if communities:
        limit_to_communities(session, user.id, communities)
    return issue_token(session, user.id, label)


def limit_to_communities(session: Session, user_id: int, communities: list[str]) -> None:
    """A partner sees only these communities (names, so the limit survives new boundary sets)."""
    names = [c.strip() for c in communities if c and c.strip()]
    if communities and not names:
        raise BadRequest("The community names are blank; send [] to lift the limit on purpose.")
    if any(len(n) > 200 for n in names):
        raise BadRequest("Community names are at most 200 characters.")
    user_store.set_scope(session, user_id, names)
    session.commit()


def issue_token(session: Session, user_id: int, label: str | None = None) -> str:
    """Another token for an existing user (shown once, stored hashed)."""
    token = new_token()
    user_store.add_token(session, user_id, hash_token(token), label=label)
    session.commit()
    return token
