"""``hotspots briefs ...``: a community brief as a PDF from the command line, and the history of briefs written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from app.settings import Settings

briefs_cli = typer.Typer(help="Community briefs for partners (two A4 pages, PDF).", no_args_is_help=True)


@briefs_cli.command("make")
def briefs_make(
    community: Annotated[str, typer.Option(help="The community: its id, or its name in the active boundary set")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="The PDF to write, e.g. brief.pdf")],
    period: Annotated[Optional[str], typer.Option(help="The month reported, YYYY-MM (default: the latest complete)")] = None,
    police: Annotated[bool, typer.Option("--police", help="Exact counts (police only; not for partners)")] = False,
) -> None:
    """Write one community's brief as a PDF (the partner tier unless --police), recorded in the history.

    A partner brief is made for a partner of that community alone: what its partner sees, nothing of others."""
    from app.db import RequestSessions, make_engine
    from app.errors import NotFound
    from app.services.brief_files import refuse_brief, write_brief
    from app.store.backends import backend_for

    settings = Settings()
    out = out.resolve()
    engine = make_engine(settings)
    try:  # one connection for the whole session: the partner tier reads as the restricted role
        with RequestSessions(engine)() as session:
            store = backend_for(engine).bind(session)
            try:
                community_id = _community_id(store, community)
            except NotFound as exc:
                made = refuse_brief(store, community.strip(), period, out, exc.message, police=police,
                                    actor="command line")
            else:
                made = write_brief(store, settings, community_id, period, out, police=police, actor="command line")
    finally:
        engine.dispose()
    if made.error:  # recorded in the history and the audit log once, by the service
        typer.echo(f"refused: {made.error}", err=True)
        raise typer.Exit(code=2)
    typer.echo(f"{made.path}: brief of {made.community} for {made.period or 'no complete month'} "
               f"({made.audience}), sha256 {made.sha256}")


@briefs_cli.command("history")
def briefs_history(limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many rows")] = 50) -> None:
    """The briefs written (or that failed), newest first."""
    from app.cli import service_call
    from app.services.brief_files import history

    for row in service_call(lambda store: history(store, limit)):
        made = row["made_at"].strftime("%Y-%m-%d %H:%M") if row["made_at"] else ""
        what = f"sha256 {row['sha256'][:16]}…" if row["status"] == "written" else f"FAILED: {row['error']}"
        typer.echo(f"{row['id']:>5}  {made}  {row['community']}  {row['period'] or '-'}  {row['audience']}  "
                   f"{row['path']}  {what}")


def _community_id(store, community: str) -> int:
    """An id as given, or the id of the active set's community of that name (refused when unknown)."""
    from app.errors import NotFound

    if community.strip().isdigit():
        return int(community)
    for row in store.boundaries.list_active_communities_aggregated():
        if row["name"].casefold() == community.strip().casefold():
            return int(row["id"])
    raise NotFound(f"There is no community named {community!r} in the active boundary set.")
