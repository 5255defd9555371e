"""``hotspots figures ...``: populations and indicators per community from the command line (audited like the API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from app.settings import Settings

figures_cli = typer.Typer(help="Populations and social-factor indicators per community.", no_args_is_help=True)


@figures_cli.command("upload")
def figures_upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV: a column of community codes or names, and numeric columns")],
    kind: Annotated[str, typer.Option(help="'population', or 'indicator' for social factors")] = "population",
    year: Annotated[Optional[int], typer.Option(help="The year the figures describe, e.g. 2020")] = None,
    source: Annotated[Optional[str], typer.Option(help="Where the figures come from, e.g. 'Census 2011'")] = None,
    unit: Annotated[Optional[str], typer.Option(help="e.g. 'residents' or '%'")] = None,
    boundary_set: Annotated[Optional[int], typer.Option(help="Boundary set id (default: the active set)")] = None,
    columns: Annotated[Optional[str], typer.Option(help="Only these columns, separated by commas")] = None,
    json_report: Annotated[bool, typer.Option("--json", help="Print the full report as JSON")] = False,
) -> None:
    """Upload figures per community; each column becomes a new version of its figure."""
    from app.audit import record
    from app.cli import _store
    from app.errors import ServiceError
    from app.services.figures import FigureUpload, upload_figures
    from spatial.errors import SpatialInputError

    upload = FigureUpload(kind=kind, year=year, source=source, unit=unit, boundary_set_id=boundary_set,
                          columns=tuple(c.strip() for c in (columns or "").split(",") if c.strip()))
    engine, store = _store(Settings())
    try:
        with store.session:
            try:
                body = upload_figures(store, file, filename=file.name, upload=upload, user_id=None)
            except (ServiceError, SpatialInputError) as exc:
                store.session.rollback()
                record(store, action="figures.upload", outcome="refused", actor="command line", target=file.name,
                       details={"reason": exc.message[:500]})
                typer.echo(f"refused: {exc.message}", err=True)
                for row in (exc.details or {}).get("rejected_rows", [])[:20]:
                    typer.echo(f"  row {row['row']}: {row['reason']}", err=True)
                raise typer.Exit(code=2) from exc
            record(store, action="figures.upload", actor="command line", target=file.name,
                   details={"kind": kind, "boundary_set_id": body["boundary_set_id"],
                            "figures": [{"id": f["id"], "name": f["name"], "version": f["version"]}
                                        for f in body["figures"]]})
    finally:
        engine.dispose()
    if json_report:
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    for figure in body["figures"]:
        typer.echo(f"{body['kind']} '{figure['name']}' version {figure['version']} (id {figure['id']}): "
                   f"{figure['communities']} communities, keyed by {body['keyed_by']} ('{body['community_column']}')")
    for warning in body["warnings"]:
        typer.echo(f"  warning: {warning}")


@figures_cli.command("list")
def figures_list(boundary_set: Annotated[Optional[int], typer.Option(help="Only this boundary set")] = None) -> None:
    """Every version of every figure, newest first ('*' marks the active version)."""
    from app.cli import service_call
    from app.services.figures import list_figures

    rows = service_call(lambda store: list_figures(store, boundary_set))
    for row in rows:
        about = ", ".join(str(v) for v in (row["unit"], row["year"], row["source"]) if v)
        typer.echo(f"{'*' if row['active'] else ' '} {row['id']:>5}  set {row['boundary_set_id']}  {row['kind']:<10} "
                   f"{row['name']}  v{row['version']}  {row['communities']} communities" + (f"  ({about})" if about else ""))
