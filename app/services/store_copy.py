"""Moving from the embedded store to PostGIS: copy everything, in one transaction, into an empty database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.errors import Conflict
from app.store import transfer


def copy_store(source: Session, target: Session, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every table from ``source`` (SQLite) to ``target`` (migrated, empty PostGIS); commits the target.

    Returns rows copied per table. Nothing is written if the target holds any data or anything fails.
    """
    if not transfer.target_is_empty(target):
        raise Conflict("The PostGIS database already holds data; copy into a new, empty database.")
    copied: dict[str, int] = {}
    try:
        for table, order in transfer.TABLES:
            copied[table] = transfer.write_rows(target, table, transfer.read_rows(source, table, order))
            if progress:
                progress(table, copied[table])
        transfer.continue_identities(target)
        target.commit()
    except Exception:
        target.rollback()
        raise
    return copied
