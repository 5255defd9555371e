"""The audit log on SQLite: a read-only request's entry goes through the background writer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.store.audit import AuditLog, audit_entry
from app.store.sqlite.audit_writer import writer_for
from app.store.sqlite.connection import READ_ONLY


class SQLiteAuditLog(AuditLog):
    """As ``AuditLog``; addresses are stored as text."""

    def append(self, *, action: str, outcome: str, user_id: int | None, user_name: str | None,
               role: str | None, target: str | None, client_ip: str | None, details: dict[str, Any] | None) -> None:
        entry = audit_entry(details, action=action, outcome=outcome, user_id=user_id, user_name=user_name, role=role,
                       target=target, client_ip=client_ip)
        connection = self.session.connection()
        if connection.get_execution_options().get(READ_ONLY):
            # A read (an export, a query): its read snapshot cannot write, and waiting for the write
            # lock would hold the read behind an import. A background writer adds the entry, stamped now.
            writer_for(connection.engine).put(entry.values(at=datetime.now(UTC)))
            return
        self.session.execute(entry)
