"""Incidents: import files and read raw points (analysts and above)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status

from app.api import exports
from app.api.deps import MAX_ID, Analyst, BBox, DateRangeDep, SettingsDep, ShortText, StoreDep, limit_heavy
from app.audit import audited, record
from app.errors import BadRequest, NotFound
from app.formats import Formatter
from app.services.import_undo import undo_import
from app.services.incident_import import import_incidents, read_options
from app.services.incident_query import INCIDENT_COLUMNS, every_incident, incident_page, incidents_about
from app.services.upload_files import incident_file
from app.settings import Settings
from app.store.incidents import IncidentFilter
from app.uploads import received_file

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

# Incidents in this format are the API's own paged listing; in any other format, a file of every match.
PAGE_FORMAT = "geojson"


@router.post("/imports", status_code=status.HTTP_201_CREATED, summary="Import a file of incidents",
             responses={200: {"description": "A dry run's report: what an import would do; nothing written"}})
def create_import(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    user: Analyst,
    file: Annotated[UploadFile, File(description="CSV, GeoJSON, zipped Shapefile or GeoPackage")],
    source: Annotated[ShortText, Form(description="Name of the feed, e.g. 'rsknpf-cad'")] = "upload",
    latitude_column: Annotated[ShortText | None, Form()] = None,
    longitude_column: Annotated[ShortText | None, Form()] = None,
    date_column: Annotated[ShortText | None, Form()] = None,
    time_column: Annotated[ShortText | None, Form(description="A time-of-day column to combine with the date")] = None,
    category_column: Annotated[ShortText | None, Form()] = None,
    id_column: Annotated[ShortText | None, Form()] = None,
    description_column: Annotated[ShortText | None, Form()] = None,
    timezone: Annotated[ShortText | None, Form(description="Zone for times without an offset")] = None,
    day_first: Annotated[bool | None, Form(
        description="true: 03/04/2024 is 3 April; false: March 4; empty: decided from the whole file")] = None,
    dry_run: Annotated[bool, Query(description="Read the whole file and report; write nothing")] = False,
) -> dict[str, Any]:
    options = read_options(
        settings, zone=_zone(timezone, settings), day_first=day_first, latitude=latitude_column,
        longitude=longitude_column, occurred_at=date_column, occurred_time=time_column, category=category_column,
        external_id=id_column, description=description_column,
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK  # nothing was created
        with received_file(file, settings.max_upload_bytes) as received, \
                incident_file(received, settings.max_upload_bytes) as path:
            return import_incidents(store, path, filename=received.name, source=source, options=options,
                                    dry_run=True).to_dict()
    with audited(store, "incidents.import", principal=user, request=request, target=file.filename) as entry, \
            received_file(file, settings.max_upload_bytes) as received, \
            incident_file(received, settings.max_upload_bytes) as path:
        report = import_incidents(store, path, filename=received.name, source=source, options=options,
                                  user_id=user.user_id)
        entry.details = {"import_id": report.import_id, "source": source, **report.counts()}
    body = report.to_dict()
    body["url"] = str(request.url_for("get_import", import_id=report.import_id))
    return body


@router.get("/imports/{import_id}", summary="One import and its report")
def get_import(import_id: int, store: StoreDep, _: Analyst) -> dict[str, Any]:
    record = store.imports.get_import(import_id)
    if record is None:
        raise NotFound(f"There is no import {import_id}.")
    return {
        "id": record.id, "filename": record.filename, "source": record.source, "status": record.status,
        "started_at": record.started_at, "finished_at": record.finished_at, "rows_read": record.rows_read,
        "inserted": record.inserted, "duplicates": record.duplicates, "rejected": record.rejected,
        "error": record.error, "report": record.report, "undone_at": record.undone_at,
    }


@router.delete("/imports/{import_id}", summary="Undo an import: remove exactly the rows it inserted")
def delete_import(import_id: int, request: Request, store: StoreDep, user: Analyst) -> dict[str, Any]:
    """One transaction; refused (409) while an analysis that may count the rows is running. Finished runs
    that counted them are marked "data changed since this run"."""
    with audited(store, "incidents.import.undo", principal=user, request=request,
                 target=f"import {import_id}") as entry:
        result = undo_import(store, import_id, user_id=user.user_id)
        entry.details = result
    return result


@router.get("", summary="Incidents as GeoJSON pages, or a file of every match in another format (points: "
                         "analysts and above)", response_model=dict[str, Any],
            responses=exports.download_responses(paged=PAGE_FORMAT))
def list_incidents(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: Analyst,
    output: Annotated[Formatter, Depends(exports.format_parameter(default=PAGE_FORMAT))],
    bbox: BBox,
    dates: DateRangeDep,
    category: Annotated[list[ShortText] | None, Query(description="One or more categories")] = None,
    community: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Community id")] = None,
    source: Annotated[list[ShortText] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page size (capped by the server)")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor from the previous page's next link")] = None,
) -> Response:
    filters = IncidentFilter(
        bbox=bbox, start=dates.start, end=dates.end, categories=tuple(category or ()),
        community_id=community, sources=tuple(source or ()),
    )
    if output.name != PAGE_FORMAT:  # a file of every match: heavy, and audited
        limit_heavy(request, user, "export")
        record(store, action="export.incidents", principal=user, request=request, target="/api/v1/incidents",
               details={"format": output.name,
                        "filters": [list(item) for item in request.query_params.multi_items()]})
        return exports.download(output, every_incident(store, filters), INCIDENT_COLUMNS, "incidents",
                                about=incidents_about(filters, "incidents"))
    page_size = min(limit or settings.incidents_page_default, settings.incidents_page_max)
    features, members = incident_page(store, filters, after=after, limit=page_size, base_url=request.url)
    record(store, action="incidents.read", principal=user, request=request, target="/api/v1/incidents",
           details={"filters": [list(item) for item in request.query_params.multi_items()],
                    "returned": members["numberReturned"]})
    return exports.geojson_page(features, members)


def _zone(name: str | None, settings: Settings) -> ZoneInfo:
    if not name:
        return settings.zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"Unknown time zone {name!r}; use a name such as America/St_Kitts.") from exc
