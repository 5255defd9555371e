"""Hotspot analysis runs: submit, follow, and read cells and the neighbourhood ranking."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from app.api import exports
from app.api.deps import Analyst, AudienceDep, Reader, SettingsDep, ShortText, StoreDep, heavy, limit_heavy
from app.audit import record
from app.auth import Principal
from app.errors import BadRequest, NotFound
from app.formats import Formatter
from app.services import analyses as analysis_service
from app.services import backtests, run_results
from app.services import factors as factor_service
from app.services import rates as rate_service
from spatial.kinds import DEFAULT_KIND, kind_named

router = APIRouter(prefix="/api/v1/analyses", tags=["analyses"])

# Cells are filtered by the class field of the default kind (for Gi*, its Gi_Bin classes), under that name.
_FILTERED_KIND = kind_named(DEFAULT_KIND)
_LOWEST, _HIGHEST = _FILTERED_KIND.class_values()
CellClass = Annotated[int, Field(ge=_LOWEST, le=_HIGHEST)]

# Cells in this format are the API's own paged listing; in any other format, a file of every cell.
PAGE_FORMAT = "geojson"


@router.post("", status_code=status.HTTP_202_ACCEPTED, summary="Queue a hotspot analysis")
def submit_analysis(body: analysis_service.AnalysisRequest, request: Request, store: StoreDep,
                    settings: SettingsDep, user: Analyst,
                    _: Annotated[Principal, Depends(heavy("analysis"))]) -> JSONResponse:
    run_id = analysis_service.submit(store, body, settings=settings, user_id=user.user_id)
    request.app.state.run_worker.submit(run_id, store=store)
    url = str(request.url_for("get_analysis", run_id=run_id))
    return JSONResponse({"id": run_id, "url": url, "status": "queued"}, status_code=202, headers={"Location": url})


@router.get("", summary="Recent runs the caller may see, newest first")
def list_analyses(store: StoreDep, _: Reader, audience: AudienceDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  before: Annotated[int | None, Query(ge=1, description="Cursor: runs older than this id")] = None,
                  ) -> dict[str, Any]:
    runs = run_results.visible_runs(store, audience, limit=limit, before_id=before)
    return {"runs": [run.summary() for run in runs], "next_before": runs[-1].id if len(runs) == limit else None}


@router.get("/{run_id}", summary="A run's status, progress and provenance")
def get_analysis(run_id: int, request: Request, store: StoreDep, _: Reader,
                 audience: AudienceDep) -> dict[str, Any]:
    run = run_results.visible_run(store, run_id, audience)
    shown = run_results.run_record(run, audience)
    if run.completed:
        shown["links"] = {
            "cells": str(request.url_for("analysis_cells", run_id=run_id)),
            "neighbourhoods": str(request.url_for("analysis_neighbourhoods", run_id=run_id)),
        }
    return shown


@router.get("/{run_id}/cells", name="analysis_cells",
            summary="A run's cells as GeoJSON pages, or a file of every cell in another format (csv, gpkg, shp, kml)",
            responses=exports.download_responses(paged=PAGE_FORMAT))
def analysis_cells(
    run_id: int, request: Request, store: StoreDep, user: Reader, audience: AudienceDep,
    output: Annotated[Formatter, Depends(exports.format_parameter(default=PAGE_FORMAT))],
    community: Annotated[int | None, Query(description="Only this community's cells")] = None,
    classes: Annotated[list[CellClass] | None, Query(
        alias=_FILTERED_KIND.class_field, description=f"Only these Gi_Bin classes ({_LOWEST}..{_HIGHEST})")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 5_000,
    after: Annotated[str | None, Query(description="Cursor from the previous page's next link")] = None,
) -> Response:
    run = run_results.visible_completed_run(store, run_id, audience)
    kind = run.kind
    within = run_results.scope_ids(store, run, audience)
    if community is not None and within is not None and community not in within:
        raise NotFound(f"There is no community {community} in this run.")
    if output.name != PAGE_FORMAT:  # a file of every cell: heavy, and audited
        limit_heavy(request, user, "export")
        record(store, action="export.cells", principal=user, request=request, target=str(run_id),
               details={"community": community, kind.class_field: classes})
        cells = store.runs.iter_cells(run.id, community, classes, within, published=not audience.raw, kind=kind,
                                      geometry=output.uses_geometry)
        stem = f"hotspot-run-{run_id}-cells"
        return exports.download(output, (run_results.cell_file_row(c, audience) for c in cells),
                                kind.csv_columns if audience.raw else kind.published_csv_columns, stem,
                                about=run_results.cells_about(run, audience, stem))
    rows = store.runs.cell_page(run.id, after_cell=_cursor(after), limit=limit + 1, community_id=community,
                                classes=classes, within=within, published=not audience.raw, kind=kind)
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        next_url = str(request.url.include_query_params(after=hex(rows[-1]["cell"])[2:], limit=limit))
    return exports.geojson_page((run_results.cell_feature(r, audience) for r in rows),
                                {"numberReturned": len(rows), "next": next_url})


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        return int(after, 16)
    except ValueError as exc:
        raise BadRequest("after must be the cursor from a previous page's next link.") from exc


@router.get("/{run_id}/neighbourhoods", name="analysis_neighbourhoods",
            summary="Communities ranked for targeting patrols and programmes")
def analysis_neighbourhoods(
    run_id: int, store: StoreDep, _: Reader, audience: AudienceDep,
    order: Annotated[Literal["hot_cells", "smoothed_rate"], Query(
        description="hot_cells: incidents inside hot cells, then per km²; smoothed_rate: the Empirical Bayes "
                    "rate per 1,000 residents, highest first")] = "hot_cells",
) -> dict[str, Any]:
    run = run_results.visible_completed_run(store, run_id, audience)
    ranking = run_results.neighbourhood_ranking(store, run, audience)
    rule = ("incidents inside hot cells (Gi_Bin 2 or 3: 95 % confidence or more), then incidents per km²"
            + ("" if audience.raw else "; counted over the cells shown"))
    if order == "smoothed_rate":
        rates = rate_service.run_rates(store, run, audience, with_moran=False)
        ranking = rate_service.order_by_smoothed_rate(ranking, rates)
        rule = "Empirical Bayes smoothed rate per 1,000 residents, highest first; " + rates["counted_from"]
    return {"run": run_id, "ranking_rule": rule, "moran": run.provenance.moran if audience.raw else None,
            "neighbourhoods": ranking}


@router.get("/{run_id}/rates", name="analysis_rates",
            summary="Crime per resident in each community of a run: raw, smoothed, flagged, and rate Moran's I")
def analysis_rates(
    run_id: int, store: StoreDep, _: Reader, audience: AudienceDep,
    per: Annotated[int, Query(description="Residents per rate: 1000 or 10000")] = 1000,
) -> dict[str, Any]:
    per = rate_service.checked_per(per)
    run = run_results.visible_completed_run(store, run_id, audience)
    return rate_service.run_rates(store, run, audience, per=per)


@router.get("/{run_id}/factors", name="analysis_factors",
            summary="Crime beside a social factor: bivariate local Moran of the smoothed rate and an indicator")
def analysis_factors(
    run_id: int, store: StoreDep, _: Reader, audience: AudienceDep,
    indicator: Annotated[ShortText, Query(description="The name of an uploaded indicator, e.g. 'unemployment'")],
) -> dict[str, Any]:
    run = run_results.visible_completed_run(store, run_id, audience)
    return factor_service.crime_beside_factor(store, run, audience, indicator)


@router.get("/{run_id}/backtest", name="analysis_backtest",
            summary="How well the run's hot cells predicted the next period, beside naive maps of the same area")
def analysis_backtest(
    run_id: int, request: Request, store: StoreDep, settings: SettingsDep, user: Reader, audience: AudienceDep,
    top: Annotated[float | None, Query(gt=0, le=50, description=(
        "Score the top x % of the area (cells by Gi* z) instead of the hot cells (Gi_Bin 2 or 3)"))] = None,
    rolling: Annotated[int, Query(ge=0, le=6, description="Earlier pairs of windows to score as well")] = 3,
) -> dict[str, Any]:
    limit_heavy(request, user, "backtest")  # counts several windows and reruns the statistics
    return backtests.backtest(store, run_id, audience, zone=settings.zone, top_percent=top, rolling=rolling)
