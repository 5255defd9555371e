"""``hotspots incidents``: import a file (or preview it with --dry-run), and undo an import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional
from zoneinfo import ZoneInfo

import typer

from app.settings import Settings

incidents_cli = typer.Typer(help="Incident data.", no_args_is_help=True)


@incidents_cli.command("import")
def incidents_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option(help="Name of the feed the file comes from")] = "upload",
    latitude_column: Optional[str] = None,
    longitude_column: Optional[str] = None,
    date_column: Optional[str] = None,
    time_column: Annotated[Optional[str], typer.Option(help="A time-of-day column to combine with the date")] = None,
    category_column: Optional[str] = None,
    id_column: Optional[str] = None,
    description_column: Optional[str] = None,
    timezone: Annotated[Optional[str], typer.Option(help="Zone for times without an offset")] = None,
    day_first: Annotated[Optional[bool], typer.Option(
        "--day-first/--month-first", help="03/04/2024 is 3 April / March 4 (default: decided from the whole file)",
        show_default=False)] = None,
    layer: Annotated[Optional[str], typer.Option(help="GeoPackage layer")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read the whole file and report; write nothing")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    json_report: Annotated[bool, typer.Option("--json", help="Print the full report as JSON")] = False,
) -> None:
    """Import incidents from a CSV, GeoJSON, zipped Shapefile or GeoPackage file."""
    from tqdm import tqdm

    from app.cli import _store
    from app.services.incident_import import import_incidents, read_options
    from app.services.upload_files import incident_file
    from spatial.errors import SpatialInputError

    settings = Settings()
    options = read_options(
        settings, zone=ZoneInfo(timezone) if timezone else settings.zone, day_first=day_first, layer=layer,
        latitude=latitude_column, longitude=longitude_column, occurred_at=date_column, occurred_time=time_column,
        category=category_column, external_id=id_column, description=description_column,
    )
    engine, store = _store(settings)
    bar = tqdm(total=100, unit="%", disable=not progress, bar_format="{l_bar}{bar}| {n:.0f}% {postfix}")

    def show(rows: int, fraction: float) -> None:
        bar.n = round(fraction * 100, 1)
        bar.set_postfix_str(f"{rows:,} rows")

    try:
        with store.session, incident_file(file, settings.max_upload_bytes) as path:
            report = import_incidents(store, path, filename=file.name, source=source, options=options,
                                      progress=show, dry_run=dry_run)
    except SpatialInputError as exc:
        bar.close()
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    bar.close()
    if json_report:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    _print_report(report.to_dict())


def _print_report(report: dict[str, Any]) -> None:
    """The report a clerk reads: what would be / was done, the mapping and why, what was assumed."""
    head = "dry run (nothing written)" if report["dry_run"] else f"import {report['import_id']}"
    verb = "would be inserted" if report["dry_run"] else "inserted"
    typer.echo(f"{head}: {report['rows_read']:,} rows read, {report['inserted']:,} {verb}, "
               f"{report['duplicates']:,} duplicates, {report['rejected']:,} rejected")
    typer.echo("columns:")
    for name, column in report["columns"].items():
        if column:
            why = report["column_reasons"].get(name, "")
            typer.echo(f"  {name:<13} {why or repr(column)}")
    for name, passed in report["column_alternatives"].items():
        for alternative in passed:
            typer.echo(f"  not {name}: {alternative}")
    typer.echo(f"dates: {report['date_order']} ({report['date_order_reason']})")
    for warning in report["warnings"]:
        typer.echo(f"  note: {warning}")
    for reason, count in report["rejected_by_reason"].items():
        typer.echo(f"  rejected {count:,}: {reason}")
    for row in report["rejected_rows"][:10]:
        typer.echo(f"  row {row['row']}: {row['reason']}")
    for row in report["preview"]:
        typer.echo(f"  row {row['row']}: {row['occurred_at']} {row['category'] or '-'} "
                   f"({row['lat']:.6f}, {row['lon']:.6f})")


@incidents_cli.command("undo")
def incidents_undo(import_id: int) -> None:
    """Undo an import: remove exactly the rows it inserted (one transaction; audited)."""
    from app.audit import record
    from app.cli import _store
    from app.errors import ServiceError
    from app.services.import_undo import undo_import

    settings = Settings()
    engine, store = _store(settings)
    try:
        with store.session:
            try:
                result = undo_import(store, import_id, user_id=None)
            except ServiceError as exc:
                record(store, action="incidents.import.undo", outcome="refused", actor="command line",
                       target=f"import {import_id}", details={"reason": exc.message[:500]})
                typer.echo(f"refused: {exc.message}", err=True)
                raise typer.Exit(code=2) from exc
            record(store, action="incidents.import.undo", actor="command line", target=f"import {import_id}",
                   details=result)
    finally:
        engine.dispose()
    runs = result["runs_marked_data_changed"]
    typer.echo(f"import {import_id} undone: {result['removed']:,} incidents removed"
               + (f"; runs {', '.join(map(str, runs))} marked 'data changed since this run'" if runs else ""))
