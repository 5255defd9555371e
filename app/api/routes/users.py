"""People and tokens, for administrators. A token is shown once, when it is made."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from app.api.deps import Admin, SignInDep, StoreDep
from app.audit import audited
from app.errors import NotFound
from models.users import ROLES
from app.services import accounts

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    role: str = Field(description=f"One of {', '.join(ROLES)}")
    communities: list[str] = Field(default_factory=list, description="For a partner: the only communities it sees")


class Scope(BaseModel):
    communities: list[str] = Field(description="Community names; an empty list lifts the limit")


@router.get("", summary="Users and their roles")
def list_users(store: StoreDep, _: Admin) -> dict[str, Any]:
    return {"users": store.accounts.list_users()}


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a user; the answer holds its first token")
def create_user(body: NewUser, request: Request, store: StoreDep, admin: Admin) -> dict[str, Any]:
    with audited(store, "token.create", principal=admin, request=request, target=body.name) as entry:
        token = accounts.create_user_with_token(store, body.name, body.role, communities=body.communities)
        entry.details = {"role": body.role, "new_user": True, "communities": body.communities}
    return {"name": body.name, "role": body.role, "token": token}


@router.post("/{user_id}/tokens", status_code=status.HTTP_201_CREATED, summary="Issue another token")
def create_token(user_id: int, request: Request, store: StoreDep, admin: Admin) -> dict[str, Any]:
    with audited(store, "token.create", principal=admin, request=request, target=str(user_id)):
        token = accounts.issue_token(store, _user(store, user_id))
    return {"user_id": user_id, "token": token}


@router.post("/{user_id}/tokens/revoke", summary="Revoke every token of a user")
def revoke_tokens(user_id: int, request: Request, store: StoreDep, admin: Admin,
                  signing_in: SignInDep) -> dict[str, Any]:
    with audited(store, "token.revoke", principal=admin, request=request, target=str(user_id)) as entry:
        revoked = store.accounts.revoke_tokens(_user(store, user_id))
        store.session.commit()
        signing_in.forget_everyone()
        entry.details = {"revoked": revoked}
    return {"user_id": user_id, "revoked": revoked}


@router.put("/{user_id}/communities", summary="Limit a partner to some communities (by name)")
def set_communities(user_id: int, body: Scope, request: Request, store: StoreDep, admin: Admin,
                    signing_in: SignInDep) -> dict[str, Any]:
    with audited(store, "scope.set", principal=admin, request=request, target=str(user_id)) as entry:
        accounts.limit_to_communities(store, _user(store, user_id), body.communities)
        signing_in.forget_everyone()  # the scope travels with the remembered principal
        entry.details = {"communities": body.communities}
    return {"user_id": user_id, "communities": sorted(set(body.communities))}


def _user(store, user_id: int) -> int:
    if not store.accounts.user_exists(user_id):
        raise NotFound(f"There is no user {user_id}.")
    return user_id
