"""Users and their API tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, select, text, update
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.store.backend import per_backend
from models import ApiToken, User


def create_user(session: Session, name: str, role: str) -> User:
    user = User(name=name, role=role)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def user_exists(session: Session, user_id: int) -> bool:
    return session.get(User, user_id) is not None


def list_users(session: Session) -> list[dict]:
    rows = session.execute(text(
        "SELECT u.id, u.name, u.role, u.created_at, u.disabled_at, "
        "count(t.id) FILTER (WHERE t.revoked_at IS NULL) AS active_tokens, max(t.last_used_at) AS last_used_at "
        "FROM users u LEFT JOIN api_tokens t ON t.user_id = u.id GROUP BY u.id ORDER BY u.name"
    ).columns(last_used_at=DateTime(timezone=True)))  # an aggregate has no declared type on SQLite
    return [dict(r._mapping) for r in rows]


def add_token(session: Session, user_id: int, token_hash: str, label: str | None = None) -> int:
    token = ApiToken(user_id=user_id, token_hash=token_hash, label=label)
    session.add(token)
    session.flush()
    return token.id


def principal_for_token(session: Session, token_hash: str) -> Principal | None:
    """The active user holding this token, or ``None``.

    ``last_used_at`` is written at most once a minute, so a burst of tile
    requests does not turn every read into a write.
    """
    row = session.execute(
        text(
            "SELECT u.id, u.name, u.role, t.id AS token_id, "
            "t.last_used_at, t.last_used_at IS NULL AS never_used "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = :hash AND t.revoked_at IS NULL AND u.disabled_at IS NULL"
        ),
        {"hash": token_hash},
    ).first()
    if row is None:
        return None
    if row.never_used or row.last_used_at < datetime.now(UTC) - timedelta(minutes=1):
        touch_token(session, row.token_id)
    return _principal(session, row.id, row.name, row.role, row.token_id)


@per_backend
def touch_token(session: Session, token_id: int) -> None:
    """Note that a token was used (bookkeeping; the caller commits)."""
    session.execute(text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id"), {"id": token_id})


def _principal(session: Session, user_id: int, name: str, role: str, token_id: int | None) -> Principal:
    scope = None
    if role == "partner":
        names = session.execute(text("SELECT community_name FROM user_scopes WHERE user_id = :id"),
                                {"id": user_id}).scalars().all()
        scope = frozenset(names) if names else None
    return Principal(user_id=user_id, name=name, role=role, token_id=token_id, communities=scope)


def set_scope(session: Session, user_id: int, community_names: list[str]) -> None:
    """Limit a partner to these communities (an empty list lifts the limit)."""
    session.execute(text("DELETE FROM user_scopes WHERE user_id = :id"), {"id": user_id})
    if community_names:
        session.execute(text("INSERT INTO user_scopes (user_id, community_name) VALUES (:id, :name)"),
                        [{"id": user_id, "name": n} for n in sorted(set(community_names))])


def principal_for_token_id(session: Session, token_id: int) -> Principal | None:
    """The active user holding the live token ``token_id`` (a browser session names it), or ``None``."""
    row = session.execute(
        text(
            "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.id = :id AND t.revoked_at IS NULL AND u.disabled_at IS NULL"
        ),
        {"id": token_id},
    ).first()
    return _principal(session, row.id, row.name, row.role, token_id) if row else None


def revoke_tokens(session: Session, user_id: int) -> int:
    result = session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=text("now()"))
    )
    return result.rowcount or 0
