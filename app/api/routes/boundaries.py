"""Boundary sets: GIS staff upload community boundaries; one set is active."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile, status

from app.api.deps import GisStaff, LongText, StoreDep, SettingsDep, ShortText, Viewer
from app.audit import audited
from app.errors import NotFound
from app.services import boundaries as boundary_service
from app.uploads import received_file

router = APIRouter(prefix="/api/v1/boundary-sets", tags=["boundaries"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Upload a community boundary file as a new set")
def upload_boundary_set(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: GisStaff,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GeoPackage, KML or KMZ")],
    name: Annotated[ShortText | None, Form(description="A name for this set, e.g. 'Parishes 2024'")] = None,
    layer: Annotated[ShortText | None, Form(description="GeoPackage layer, when the file has several")] = None,
    name_field: Annotated[ShortText | None, Form()] = None,
    code_field: Annotated[ShortText | None, Form()] = None,
    population_field: Annotated[ShortText | None, Form()] = None,
    source_crs: Annotated[ShortText | None, Form(description="e.g. EPSG:32620, for a Shapefile without .prj")] = None,
    attribution: Annotated[LongText | None, Form()] = None,
    activate: Annotated[bool, Form(description="Make this the active set straight away")] = False,
) -> dict[str, Any]:
    options = boundary_service.BoundaryOptions(
        name=name, layer=layer, name_field=name_field, code_field=code_field,
        population_field=population_field, source_crs=source_crs, attribution=attribution, activate=activate,
    )
    with audited(store, "boundaries.upload", principal=user, request=request, target=file.filename) as entry, \
            received_file(file, settings.max_upload_bytes) as path:
        body = boundary_service.upload_boundary_set(
            store, path, original_name=path.name, options=options, service_area=settings.service_area,
            max_bytes=settings.max_upload_bytes, user_id=user.user_id,
        )
        entry.details = {"boundary_set_id": body["id"], "communities": body["communities"], "activated": activate}
    body["url"] = str(request.url_for("get_boundary_set", set_id=body["id"]))
    return body


@router.get("", summary="All boundary sets, newest first")
def list_boundary_sets(store: StoreDep, _: Viewer) -> dict[str, Any]:
    return {"boundary_sets": store.boundaries.list_boundary_sets()}


@router.get("/{set_id}", summary="One boundary set with its validation report")
def get_boundary_set(set_id: int, store: StoreDep, _: Viewer) -> dict[str, Any]:
    found = store.boundaries.get_boundary_set(set_id)
    if found is None:
        raise NotFound(f"There is no boundary set {set_id}.")
    return found


@router.post("/{set_id}/activate", summary="Make this the active set and re-assign incidents to its communities")
def activate_boundary_set(set_id: int, request: Request, store: StoreDep, user: GisStaff) -> dict[str, Any]:
    with audited(store, "boundaries.activate", principal=user, request=request, target=str(set_id)) as entry:
        body = boundary_service.activate(store, set_id)
        entry.details = {"incidents_reassigned": body["incidents_reassigned"]}
    return body
