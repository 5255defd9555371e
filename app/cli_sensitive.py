"""``hotspots sensitive ...``: the sensitive categories from the command line (audited like the API)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.settings import Settings

sensitive_cli = typer.Typer(help="Sensitive incident categories (left out of everything shared).",
                            no_args_is_help=True)


def _change(action: str, term: str) -> None:
    from app.audit import record
    from app.cli import _store
    from app.errors import ServiceError
    from app.services import sensitive_categories

    engine, store = _store(Settings())
    try:
        with store.session:
            try:
                changes = (sensitive_categories.add_term(store, term, None) if action == "add"
                           else sensitive_categories.remove_term(store, term))
            except ServiceError as exc:
                store.session.rollback()
                record(store, action=f"sensitive_term.{action}", outcome="refused", actor="command line",
                       target=term, details={"reason": exc.message})
                typer.echo(exc.message, err=True)
                raise typer.Exit(code=2) from exc
            store.session.commit()
            record(store, action=f"sensitive_term.{action}", actor="command line", target=changes["term"],
                   details={k: changes[k] for k in ("now_sensitive", "no_longer_sensitive", "shared_runs_withdrawn")})
    finally:
        engine.dispose()
    typer.echo(json.dumps(changes, indent=2, default=str))


@sensitive_cli.command("add")
def sensitive_add(term: Annotated[str, typer.Argument(help="A word or phrase, e.g. 'obeah'")]) -> None:
    """Add a sensitive term; every category is classed again (shared runs withdrawn if one becomes sensitive)."""
    _change("add", term)


@sensitive_cli.command("remove")
def sensitive_remove(term: str) -> None:
    """Remove a term an admin added (the shipped terms stay)."""
    _change("remove", term)


@sensitive_cli.command("list")
def sensitive_list() -> None:
    """Every category with its class; near misses marked '?' for review."""
    from app.cli import _store

    engine, store = _store(Settings())
    with store.session:
        for row in store.disclosure.categories():
            mark = "S" if row["sensitive"] else ("?" if row["near_miss"] else " ")
            why = row["matched_term"] or (f"close to '{row['near_miss']}'" if row["near_miss"] else "")
            typer.echo(f"{mark} {row['name'] or '(none)'}  {why}")
    engine.dispose()
