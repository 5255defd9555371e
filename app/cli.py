"""The ``hotspots`` command line: database, users, imports, serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from app.cli_briefs import briefs_cli
from app.cli_figures import figures_cli
from app.cli_incidents import incidents_cli
from app.cli_interventions import interventions_cli
from app.cli_sensitive import sensitive_cli
from app.settings import Settings

cli = typer.Typer(help="Crime-hotspot mapping service.", no_args_is_help=True, pretty_exceptions_enable=False)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
users_cli = typer.Typer(help="People and their API tokens.", no_args_is_help=True)
boundaries_cli = typer.Typer(help="Community boundary sets.", no_args_is_help=True)
analyses_cli = typer.Typer(help="Hotspot analyses.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(incidents_cli, name="incidents")
cli.add_typer(boundaries_cli, name="boundaries")
cli.add_typer(analyses_cli, name="analyses")
cli.add_typer(sensitive_cli, name="sensitive")
cli.add_typer(figures_cli, name="figures")
cli.add_typer(interventions_cli, name="interventions")
cli.add_typer(briefs_cli, name="briefs")

T = TypeVar("T")

SAMPLE_BOUNDARIES = Path(__file__).resolve().parent / "data" / "kna_parishes.geojson"
SAMPLE_ATTRIBUTION = "geoBoundaries, © OpenStreetMap contributors (CC BY-SA 2.0)"


def _store(settings: Settings):
    """The engine of the configured database and a store on a new session of it."""
    from app.db import make_engine, make_sessionmaker
    from app.store.backends import backend_for

    engine = make_engine(settings)
    return engine, backend_for(engine).bind(make_sessionmaker(engine)())


def service_call(call: Callable[[Any], T]) -> T:
    """Run ``call(store)`` on the configured database; a refused request prints its message and exits 2."""
    from app.errors import ServiceError

    engine, store = _store(Settings())
    try:
        with store.session:
            return call(store)
    except ServiceError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()


def alembic_config(database_url: str):
    from alembic.config import Config

    import migrations

    # The scripts ship inside the package, so this works from any directory and from a wheel;
    # alembic.ini at the top of a checkout stays for developers' own alembic commands.
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).resolve().parent))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (creates the PostGIS extension if it can)."""
    from alembic import command

    command.upgrade(alembic_config(Settings().database_url), revision)
    typer.echo(f"database at {revision}")


@db_cli.command("copy-to")
def db_copy_to(target_url: Annotated[str, typer.Argument(help="postgresql+psycopg://user@host:5432/dbname")]) -> None:
    """Move to PostGIS: copy the embedded database into an empty PostGIS database (migrated first)."""
    from alembic import command

    from app.errors import Conflict
    from app.services.store_copy import copy_store

    settings = Settings()
    if not settings.embedded:
        raise typer.BadParameter("the configured database is not the embedded one; nothing to copy from")
    if not target_url.startswith("postgresql"):
        raise typer.BadParameter("the target must be a PostGIS URL, postgresql+psycopg://...")
    command.upgrade(alembic_config(target_url), "head")
    source_engine, source = _store(settings)
    target_engine, target = _store(Settings(database_url=target_url, statement_timeout_ms=0))
    try:
        with source.session, target.session:
            copied = copy_store(source.session, target.session, progress=lambda table, n: typer.echo(f"  {table}: {n:,} rows"))
    except Conflict as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        source_engine.dispose()
        target_engine.dispose()
    typer.echo(f"Copied {sum(copied.values()):,} rows. Now set HOTSPOTS_DATABASE_URL={target_url} and restart.")


@db_cli.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ('base' for an empty database)."""
    from alembic import command

    command.downgrade(alembic_config(Settings().database_url), revision)
    typer.echo(f"database at {revision}")


@users_cli.command("create")
def users_create(
    name: str,
    role: Annotated[str, typer.Option(help="partner, viewer, analyst, gis or admin")] = "viewer",
    community: Annotated[Optional[list[str]], typer.Option(help="For a partner: a community it may see (repeat)")] = None,
) -> None:
    """Create a user and print an API token once (it is stored only as a hash)."""
    from app.services.accounts import create_user_with_token

    from app.audit import record
    from app.errors import ServiceError

    engine, store = _store(Settings())
    try:
        with store.session:
            token = create_user_with_token(store, name, role, communities=community or [])
            record(store, action="token.create", actor="command line", target=name,
                   details={"role": role, "new_user": True, "communities": community or []})
    except ServiceError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(token)


@boundaries_cli.command("import")
def boundaries_import(
    file: Annotated[Optional[Path], typer.Argument(exists=True, dir_okay=False, readable=True,
                                                   help="Boundary file; omit with --sample")] = None,
    sample: Annotated[bool, typer.Option(help="Load the shipped St Kitts and Nevis parishes")] = False,
    name: Optional[str] = None,
    layer: Optional[str] = None,
    name_field: Optional[str] = None,
    code_field: Optional[str] = None,
    population_field: Optional[str] = None,
    source_crs: Annotated[Optional[str], typer.Option(help="e.g. EPSG:32620 for a Shapefile without .prj")] = None,
    attribution: Optional[str] = None,
    activate: Annotated[bool, typer.Option(help="Make it the active set")] = False,
    json_report: Annotated[bool, typer.Option("--json", help="Print the full report as JSON")] = False,
) -> None:
    """Upload a boundary file (GeoJSON, zipped Shapefile, GeoPackage, KML, KMZ) as a new set."""
    from app.services.boundaries import BoundaryOptions, upload_boundary_set
    from spatial.errors import SpatialInputError

    if sample:
        file, name = SAMPLE_BOUNDARIES, name or "St Kitts and Nevis parishes"
        attribution = attribution or SAMPLE_ATTRIBUTION
    if file is None:
        raise typer.BadParameter("give a FILE or --sample")
    settings = Settings()
    options = BoundaryOptions(name=name, layer=layer, name_field=name_field, code_field=code_field,
                              population_field=population_field, source_crs=source_crs,
                              attribution=attribution, activate=activate)
    engine, store = _store(settings)
    try:
        with store.session:
            body = upload_boundary_set(store, file, original_name=file.name, options=options,
                                       service_area=settings.service_area, max_bytes=settings.max_upload_bytes)
    except SpatialInputError as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    if json_report:
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    report = body["report"]
    typer.echo(f"boundary set {body['id']}: {body['communities']} communities"
               + (" (active)" if body["active"] else " (not active; use 'hotspots boundaries activate')"))
    for item in report["repaired"]:
        typer.echo(f"  repaired feature {item['feature_number']} ({item['name']}): {item['reason']}")
    for item in report["refused"]:
        typer.echo(f"  refused feature {item['feature_number']} ({item['name']}): {item['reason']}")
    for warning in report["warnings"]:
        typer.echo(f"  warning: {warning}")


@boundaries_cli.command("activate")
def boundaries_activate(set_id: int) -> None:
    """Make a boundary set active and re-assign every incident's community."""
    from app.services.boundaries import activate

    body = service_call(lambda store: activate(store, set_id))
    typer.echo(f"boundary set {set_id} is active; {body['incidents_reassigned']:,} incidents re-assigned")


@boundaries_cli.command("list")
def boundaries_list() -> None:
    """List boundary sets."""
    engine, store = _store(Settings())
    with store.session:
        for row in store.boundaries.list_boundary_sets():
            mark = "*" if row["is_active"] else " "
            typer.echo(f"{mark} {row['id']:>4}  {row['communities']:>4} communities  {row['name']}  ({row['filename']})")
    engine.dispose()


@analyses_cli.command("run")
def analyses_run(
    community: Annotated[Optional[list[str]], typer.Option(help="Community name (repeat for several)")] = None,
    all_communities: Annotated[bool, typer.Option("--all", help="Every community of the active set")] = False,
    resolution: Annotated[int, typer.Option(help="H3 resolution, 7-11")] = 9,
    start: Annotated[Optional[datetime], typer.Option(help="From (local time if no offset)")] = None,
    end: Annotated[Optional[datetime], typer.Option(help="Up to, exclusive")] = None,
    category: Annotated[Optional[list[str]], typer.Option(help="Category (repeat for several)")] = None,
    permutations: int = 999,
    seed: Optional[int] = None,
    fdr: Annotated[bool, typer.Option(help="False-discovery-rate correction")] = True,
    inference: Annotated[str, typer.Option(
        help="conditional (default: exact, calibrated on sparse counts) or analytic (as ArcGIS; over-reports)")
    ] = "conditional",
    top: Annotated[int, typer.Option(help="Neighbourhoods to print")] = 10,
    kind: Annotated[str, typer.Option(
        help="hotspot (Gi* and LISA over the whole period) or emerging (how hot spots changed step by step)")
    ] = "hotspot",
    step: Annotated[Optional[str], typer.Option(
        help="Emerging runs: day, week, month (default) or quarter; at least 10 whole steps")] = None,
    time_lag: Annotated[int, typer.Option(help="Emerging runs: earlier steps counted as neighbours in time")] = 1,
) -> None:
    """Run an analysis now and print the neighbourhood ranking (emerging runs: the patterns found too)."""
    from pydantic import ValidationError

    from app.errors import ServiceError
    from app.services import analyses, run_results

    if community and all_communities:
        raise typer.BadParameter("use --community or --all, not both")
    settings = Settings()
    try:
        request = analyses.AnalysisRequest.model_validate(dict(
            communities=community or [], resolution=resolution, start=start, end=end,
            categories=category or [], permutations=permutations, seed=seed, fdr=fdr, inference=inference,
            kind=kind, step=step, **({"time_lag": time_lag} if kind == "emerging" else {}),
        ))
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from exc
    engine, store = _store(settings)
    try:
        with store.session:
            run_id = analyses.submit(store, request, settings=settings, user_id=None)
            typer.echo(f"run {run_id}: analysing...")
            analyses.execute(store, run_id)
            run = store.runs.get_run(run_id)
            if run is None or not run.completed:
                typer.echo(f"run {run_id} {run and run.status}: {run and run.error}", err=True)
                raise typer.Exit(code=1)
            ranking = run_results.neighbourhood_ranking(store, run)
    except ServiceError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    provenance = run.provenance.document
    moran = run.provenance.moran or {}
    global_moran = (f"Moran's I {moran['I']:.4f} (p {moran['p_norm']:.4g})" if "I" in moran
                    else moran.get("message", ""))
    if "patterns" in provenance:  # an emerging run: its steps and the patterns found
        steps = provenance["steps"]
        typer.echo(f"run {run_id} completed: {provenance['cells']:,} cells, {provenance['incidents_used']:,} incidents "
                   f"in {len(steps['labels'])} {steps['step']}s ({steps['labels'][0]} to {steps['labels'][-1]}), "
                   f"seed {provenance['seed']}")
        for pattern, cells in sorted(provenance["patterns"].items(), key=lambda item: -item[1]):
            typer.echo(f"  {pattern:<28} {cells:>7,} cells")
    else:
        typer.echo(f"run {run_id} completed: {provenance['cells']:,} cells, {provenance['incidents_used']:,} incidents, "
                   f"seed {provenance['seed']}, {global_moran}; significance: {provenance['significance']['method']}")
    hot_heading = "hot patterns" if "patterns" in provenance else "hot 99/95/90"
    typer.echo(f"{'rank':>4}  {'community':<32} {'incidents':>9} {'per km2':>8} {hot_heading:>13} {'in hot':>7}")
    for row in ranking[:top]:
        hot = row["hot_cells"]
        shown = f"{hot['99%']:>4}/{hot['95%']:>3}/{hot['90%']:>3}" if isinstance(hot, dict) else f"{hot:>13}"
        typer.echo(f"{row['rank']:>4}  {row['community'][:32]:<32} {row['incidents']:>9,} "
                   f"{row['incidents_per_km2'] or 0:>8.1f} {shown:>13} {row['share_in_hot_cells']:>7.0%}")
    for warning in provenance["warnings"]:
        typer.echo(f"  note: {warning}")
    verdict = (provenance.get("evidence") or {}).get("message")
    if verdict:
        typer.echo(f"  {verdict}")


@cli.command("demo")
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    incidents: Annotated[int, typer.Option(help="SYNTHETIC incidents to generate")] = 6000,
) -> None:
    """Migrate, load the sample parishes and SYNTHETIC incidents, run an analysis, and serve."""
    from alembic import command

    from app.services.demo import prepare_demo

    settings = Settings()
    _ensure_map_assets(settings)
    command.upgrade(alembic_config(settings.database_url), "head")
    engine, store = _store(settings)
    with store.session:
        ready = prepare_demo(store, settings, sample_boundaries=SAMPLE_BOUNDARIES,
                             attribution=SAMPLE_ATTRIBUTION, incidents=incidents)
    engine.dispose()
    base = f"http://{host}:{port}"
    typer.echo("Demo ready. The incidents are SYNTHETIC, generated for this demonstration.")
    typer.echo(f"  admin token (shown once): {ready['token']}")
    typer.echo(f"  analysis run:  {base}/api/v1/analyses/{ready['run_id']}")
    typer.echo(f"  ranking:       {base}/api/v1/analyses/{ready['run_id']}/neighbourhoods")
    typer.echo(f"  map:           {base}/maps/analyses/{ready['run_id']}")
    typer.echo(f"  shared run:    {base}/maps/analyses/{ready['shared_run_id']} (what partners may see)")
    typer.echo(f"  sign in:       {base}/sign-in")
    typer.echo(f"  API docs:      {base}/docs")
    serve(host=host, port=port)


@cli.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the web service (one worker; see the README on TCP_NODELAY)."""
    import uvicorn

    from app.main import create_app

    settings = Settings()
    _ensure_map_assets(settings)
    uvicorn.run(create_app(settings), host=host, port=port)


def _ensure_map_assets(settings: Settings) -> None:
    """Map pages need Leaflet from static/vendor: fetch it now (checked) or stop with the reason."""
    from app.assets import CHECKOUT_CACHE, AssetError, ensure_assets
    from app.settings import CHECKOUT

    cache = CHECKOUT_CACHE if CHECKOUT else settings.data_dir / "npm-cache"
    try:
        ensure_assets(settings.static_dir / "vendor", cache, say=typer.echo)
    except AssetError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


def main() -> None:
    cli()
