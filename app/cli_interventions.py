"""``hotspots interventions ...``: record, list, show and evaluate programmes (audited like the API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from app.settings import Settings

interventions_cli = typer.Typer(help="Interventions (programmes) and their evaluation.", no_args_is_help=True)
POLICE_ROLE = "analyst"  # the command line works on the database directly, as police


def _audited(action: str, target: str | None, call: Callable[[Any], dict[str, Any]],
             details: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Run ``call(store)``, record it in the audit log (ok or refused) and commit; exit 2 when refused."""
    from app.audit import record
    from app.cli import _store
    from app.errors import ServiceError

    engine, store = _store(Settings())
    try:
        with store.session:
            try:
                result = call(store)
            except ServiceError as exc:
                store.session.rollback()
                record(store, action=action, outcome="refused", actor="command line", target=target,
                       details={"reason": exc.message[:500]})
                typer.echo(f"refused: {exc.message}", err=True)
                raise typer.Exit(code=2) from exc
            store.session.commit()
            record(store, action=action, actor="command line", target=target or f"intervention {result['id']}",
                   details=details(result))
            return result
    finally:
        engine.dispose()


def _police(settings: Settings):
    from app.auth import Principal
    from app.privacy import audience_for

    return audience_for(Principal(user_id=0, name="command line", role=POLICE_ROLE), settings)


def _geometry(path: Path) -> dict[str, Any]:
    """The geometry of a GeoJSON file: a geometry, a Feature, or a FeatureCollection of one feature."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{path} is not a readable GeoJSON file: {exc}") from None
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features") or []
        if len(features) != 1:
            raise typer.BadParameter(f"{path} holds {len(features)} features; give a file with one polygon.")
        document = features[0]
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict):
        raise typer.BadParameter(f"{path} holds no GeoJSON geometry.")
    return document


@interventions_cli.command("add")
def interventions_add(
    name: Annotated[str, typer.Option(help="e.g. 'Basseterre youth outreach 2025'")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="Last day (included), YYYY-MM-DD")],
    community: Annotated[Optional[list[str]], typer.Option(help="A target community by name (repeat for more)")] = None,
    geometry: Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False,
                                                     help="Or the target as a GeoJSON polygon file")] = None,
    compare: Annotated[Optional[list[str]], typer.Option(
        help="A comparison community by name (repeat; default: the rest of the active communities)")] = None,
    partner: Annotated[Optional[str], typer.Option(help="Who ran it")] = None,
    resolution: Annotated[int, typer.Option(help="H3 resolution of the buffer's cells (7-11)")] = 9,
    buffer_rings: Annotated[int, typer.Option(help="Rings of cells around the target (0-3)")] = 1,
    shared: Annotated[bool, typer.Option(help="Partners and viewers may see it")] = False,
) -> None:
    """Record an intervention."""
    from app.errors import BadRequest
    from app.services.interventions import NewIntervention, active_communities, create_intervention

    try:
        starts_on, ends_on = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise typer.BadParameter(f"Dates are YYYY-MM-DD: {exc}") from None
    target_geometry = _geometry(geometry) if geometry else None

    def add(store) -> dict[str, Any]:
        ids = {c["name"]: c["id"] for c in active_communities(store)}
        unknown = [n for n in (community or []) + (compare or []) if n not in ids]
        if unknown:
            raise BadRequest(f"No community called {', '.join(map(repr, unknown))} in the active boundary set.")
        new = NewIntervention(name=name, partner=partner, starts_on=starts_on, ends_on=ends_on,
                              target_communities=tuple(ids[n] for n in community or []), target_geometry=target_geometry,
                              comparison_communities=tuple(ids[n] for n in compare or []), resolution=resolution,
                              buffer_rings=buffer_rings, shared=shared)
        return create_intervention(store, new, user_id=None)

    shown = _audited("interventions.create", name, add, lambda r: {"name": name, "shared": shared})
    typer.echo(f"intervention {shown['id']}: {shown['name']} in {', '.join(shown['communities'])}, "
               f"{shown['starts_on']} to {shown['ends_on']}{' (shared)' if shown['shared'] else ''}")


@interventions_cli.command("list")
def interventions_list(community: Annotated[Optional[str], typer.Option(help="Only those in this community")] = None
                       ) -> None:
    """Every intervention, newest first."""
    from app.cli import service_call
    from app.services.interventions import list_interventions

    settings = Settings()
    for row in service_call(lambda store: list_interventions(store, _police(settings), community)):
        evaluated = f"evaluated {row['evaluated_at']}" if row["evaluated_at"] else "not evaluated"
        typer.echo(f"{row['id']:>5}  {row['starts_on']} to {row['ends_on']}  {row['name']}  "
                   f"({', '.join(row['communities'])}; {'shared' if row['shared'] else 'police only'}; {evaluated})")


@interventions_cli.command("show")
def interventions_show(intervention_id: Annotated[int, typer.Argument(help="Intervention id")]) -> None:
    """One intervention as JSON."""
    from app.cli import service_call
    from app.services.interventions import get_intervention

    settings = Settings()
    typer.echo(json.dumps(service_call(lambda store: get_intervention(store, intervention_id, _police(settings))),
                          indent=2, default=str))


@interventions_cli.command("evaluate")
def interventions_evaluate(
    intervention_id: Annotated[int, typer.Argument(help="Intervention id")],
    json_report: Annotated[bool, typer.Option("--json", help="Print the whole evaluation as JSON")] = False,
) -> None:
    """Count before and after, compare, keep the evaluation (and its published copy for partners)."""
    from app.services.intervention_evaluation import evaluate

    settings = Settings()
    result = _audited("interventions.evaluate", f"intervention {intervention_id}",
                      lambda store: {**evaluate(store, intervention_id, _police(settings), settings),
                                     "id": intervention_id},
                      lambda r: {"status": r["status"]})
    if json_report:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    counts = result.get("counts") or {}
    for area, values in counts.items():
        if values:
            typer.echo(f"{area:<11} before {values['before']:>6}  after {values['after']:>6}")
    typer.echo(result["sentence"])
