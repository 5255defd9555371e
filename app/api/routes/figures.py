"""Populations and indicators per community: GIS staff upload them as CSV; versions are listed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status

from app.api.deps import MAX_ID, GisStaff, LongText, SettingsDep, ShortText, StoreDep, Viewer
from app.audit import audited
from app.services import figures as figure_service
from app.uploads import received_file

router = APIRouter(prefix="/api/v1/communities/figures", tags=["communities"])


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="Upload populations or indicators per community (CSV keyed by community code or name)")
def upload_figures(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: GisStaff,
    file: Annotated[UploadFile, File(description="CSV: a column of community codes or names, and numeric columns")],
    kind: Annotated[ShortText, Form(description="'population', or 'indicator' for social factors")],
    year: Annotated[int | None, Form(description="The year the figures describe, e.g. 2020")] = None,
    source: Annotated[LongText | None, Form(description="Where the figures come from, e.g. 'Census 2011'")] = None,
    unit: Annotated[ShortText | None, Form(description="e.g. 'residents', '%', 'per 1,000 residents'")] = None,
    boundary_set_id: Annotated[int | None, Form(ge=1, le=MAX_ID, description="Default: the active set")] = None,
    columns: Annotated[ShortText | None, Form(description="Only these columns, separated by commas")] = None,
) -> dict[str, Any]:
    upload = figure_service.FigureUpload(
        kind=kind, year=year, source=source, unit=unit, boundary_set_id=boundary_set_id,
        columns=tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else ())
    with audited(store, "figures.upload", principal=user, request=request, target=file.filename) as entry, \
            received_file(file, settings.max_upload_bytes) as path:
        body = figure_service.upload_figures(store, path, filename=path.name, upload=upload, user_id=user.user_id)
        entry.details = {"kind": kind, "boundary_set_id": body["boundary_set_id"],
                         "figures": [{"id": f["id"], "name": f["name"], "version": f["version"]} for f in body["figures"]]}
    return body


@router.get("", summary="Populations and indicators per community, every version, newest first")
def list_figures(store: StoreDep, _: Viewer,
                 boundary_set_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> dict[str, Any]:
    return {"figures": figure_service.list_figures(store, boundary_set_id)}
