"""Recording audited actions: reads of raw incidents, exports, uploads, boundary
activations, tokens created or revoked, failed sign-ins."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.auth import Principal
from app.store import audit as audit_store

log = logging.getLogger(__name__)


def client_ip(request: Request | None) -> str | None:
    """The client's address, when it is one (test clients and unix sockets have none)."""
    if request is None or not request.client:
        return None
    try:
        return str(ipaddress.ip_address(request.client.host))
    except ValueError:
        return None


def record(session: Session, *, action: str, outcome: str = "ok", principal: Principal | None = None,
           request: Request | None = None, target: str | None = None, details: dict[str, Any] | None = None,
           actor: str | None = None) -> None:
    """Append one entry and commit it (an audit entry must not depend on the caller's transaction).

    Text from the request is made storable first (a NUL byte or a 9 KB name must not turn the
    refusal of a bad request into a failure to audit it).
    """
    audit_store.append(
        session, action=action, outcome=outcome, target=_storable(target), client_ip=client_ip(request),
        details=_storable(details),
        user_id=principal.user_id if principal else None,
        user_name=principal.name if principal else actor, role=principal.role if principal else None,
    )
    session.commit()


def _storable(value: Any, limit: int = 1000) -> Any:
    """Strings with NUL and lone surrogates replaced by U+FFFD and cut at ``limit``, at any depth."""
    if isinstance(value, str):
        cleaned = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
        return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"
    if isinstance(value, dict):
        return {_storable(k, 200): _storable(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v, limit) for v in value]
    return value


@dataclass
class Entry:
    details: dict[str, Any] = field(default_factory=dict)
    target: str | None = None


@contextmanager
def audited(session: Session, action: str, *, principal: Principal | None, request: Request | None,
            target: str | None = None) -> Iterator[Entry]:
    """Record ``action`` as ok when the block succeeds, refused/failed (and re-raise) when it does not."""
    from app.errors import ServiceError
    from spatial.errors import SpatialInputError

    entry = Entry(target=target)
    try:
        yield entry
    except (ServiceError, SpatialInputError) as exc:
        session.rollback()
        record(session, action=action, outcome="refused", principal=principal, request=request,
               target=entry.target, details={**entry.details, "reason": getattr(exc, "message", str(exc))[:500]})
        raise
    except Exception:
        session.rollback()
        record(session, action=action, outcome="failed", principal=principal, request=request,
               target=entry.target, details=entry.details or None)
        raise
    record(session, action=action, principal=principal, request=request, target=entry.target,
           details=entry.details or None)
