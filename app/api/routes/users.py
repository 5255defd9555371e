"""People and tokens, for administrators. A token is shown once, when it is made."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from app.api.deps import Admin, SessionDep, SignInDep
from app.audit import audited
from app.errors import NotFound
from models.users import ROLES
from app.services import accounts
from app.store import users as user_store

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    role: str = Field(description=f"One of {', '.join(ROLES)}")
    communities: list[str] = Field(default_factory=list, description="For a partner: the only communities it sees")


class Scope(BaseModel):
    communities: list[str] = Field(description="Community names; an empty list lifts the limit")


@router.get("", summary="Users and their roles")
def list_users(session: SessionDep, _: Admin) -> dict[str, Any]:
    return {"users": user_store.list_users(session)}


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a user; the answer holds its first token")
def create_user(body: NewUser, request: Request, session: SessionDep, admin: Admin) -> dict[str, Any]:
    with audited(session, "token.create", principal=admin, request=request, target=body.name) as entry:
        token = accounts.create_user_with_token(session, body.name, body.role, communities=body.communities)
        entry.details = {"role": body.role, "new_user": True, "communities": body.communities}
    return {"name": body.name, "role": body.role, "token": token}


@router.post("/{user_id}/tokens", status_code=status.HTTP_201_CREATED, summary="Issue another token")
def create_token(user_id: int, request: Request, session: SessionDep, admin: Admin) -> dict[str, Any]:
    with audited(session, "token.create", principal=admin, request=request, target=str(user_id)):
        token = accounts.issue_token(session, _user(session, user_id))
    return {"user_id": user_id, "token": token}


@router.post("/{user_id}/tokens/revoke", summary="Revoke every token of a user")
def revoke_tokens(user_id: int, request: Request, session: SessionDep, admin: Admin,
                  signing_in: SignInDep) -> dict[str, Any]:
    with audited(session, "token.revoke", principal=admin, request=request, target=str(user_id)) as entry:
        revoked = user_store.revoke_tokens(session, _user(session, user_id))
        session.commit()
        signing_in.forget_everyone()
        entry.details = {"revoked": revoked}
    return {"user_id": user_id, "revoked": revoked}


@router.put("/{user_id}/communities", summary="Limit a partner to some communities (by name)")
def set_communities(user_id: int, body: Scope, request: Request, session: SessionDep, admin: Admin,
                    signing_in: SignInDep) -> dict[str, Any]:
    with audited(session, "scope.set", principal=admin, request=request, target=str(user_id)) as entry:
        accounts.limit_to_communities(session, _user(session, user_id), body.communities)
        signing_in.forget_everyone()  # the scope travels with the remembered principal
        entry.details = {"communities": body.communities}
    return {"user_id": user_id, "communities": sorted(set(body.communities))}


def _user(session, user_id: int) -> int:
    if not user_store.user_exists(session, user_id):
        raise NotFound(f"There is no user {user_id}.")
    return user_id
