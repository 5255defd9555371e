"""One store interface, two implementations: PostGIS (``app/store/*.py``) and SQLite (``app/store/sqlite/``).

A store function whose SQL only PostgreSQL runs is marked ``@per_backend``;
on a SQLite session the call goes to the function of the same name in the
matching ``app.store.sqlite`` module, with the same arguments and the same
result. Everything else is portable SQL shared by both.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session

P = ParamSpec("P")
R = TypeVar("R")


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def per_backend(function: Callable[P, R]) -> Callable[P, R]:
    module = function.__module__.rsplit(".", 1)[-1]

    @functools.wraps(function)
    def dispatch(session: Session, *args: P.args, **kwargs: P.kwargs) -> R:
        if is_sqlite(session):
            embedded = importlib.import_module(f"app.store.sqlite.{module}")
            return getattr(embedded, function.__name__)(session, *args, **kwargs)
        return function(session, *args, **kwargs)

    return dispatch  # type: ignore[return-value]
