"""Incidents: import files and read raw points (analysts and above)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status

from app.api.deps import MAX_ID, Analyst, BBox, DateRangeDep, SessionDep, SettingsDep, ShortText
from app.audit import audited, record
from app.errors import BadRequest, NotFound
from app.services.incident_import import import_incidents
from app.services.incident_query import incident_page
from app.services.upload_files import incident_file
from app.settings import Settings
from app.store import imports as import_store
from app.store.incidents import IncidentFilter
from app.uploads import received_file
from spatial.incidents_io import ReadOptions

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@router.post("/imports", status_code=status.HTTP_201_CREATED, summary="Import a file of incidents")
def create_import(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Analyst,
    file: Annotated[UploadFile, File(description="CSV, GeoJSON, zipped Shapefile or GeoPackage")],
    source: Annotated[ShortText, Form(description="Name of the feed, e.g. 'rsknpf-cad'")] = "upload",
    latitude_column: Annotated[ShortText | None, Form()] = None,
    longitude_column: Annotated[ShortText | None, Form()] = None,
    date_column: Annotated[ShortText | None, Form()] = None,
    category_column: Annotated[ShortText | None, Form()] = None,
    id_column: Annotated[ShortText | None, Form()] = None,
    description_column: Annotated[ShortText | None, Form()] = None,
    timezone: Annotated[ShortText | None, Form(description="Zone for times without an offset")] = None,
    day_first: Annotated[bool, Form(description="Read 03/04/2024 as 3 April")] = False,
) -> dict[str, Any]:
    columns = {
        "latitude": latitude_column, "longitude": longitude_column, "occurred_at": date_column,
        "category": category_column, "external_id": id_column, "description": description_column,
    }
    options = ReadOptions(
        columns={k: v for k, v in columns.items() if v},
        timezone=_zone(timezone, settings),
        day_first=day_first,
        service_area=settings.service_area,
        chunk_rows=settings.import_chunk_rows,
        h3_resolution=settings.h3_base_resolution,
    )
    with audited(session, "incidents.import", principal=user, request=request, target=file.filename) as entry, \
            received_file(file, settings.max_upload_bytes) as received, \
            incident_file(received, settings.max_upload_bytes) as path:
        report = import_incidents(session, path, filename=received.name, source=source, options=options,
                                  user_id=user.user_id)
        entry.details = {"import_id": report.import_id, "source": source, **report.counts()}
    body = report.to_dict()
    body["url"] = str(request.url_for("get_import", import_id=report.import_id))
    return body


@router.get("/imports/{import_id}", summary="One import and its report")
def get_import(import_id: int, session: SessionDep, _: Analyst) -> dict[str, Any]:
    record = import_store.get_import(session, import_id)
    if record is None:
        raise NotFound(f"There is no import {import_id}.")
    return {
        "id": record.id, "filename": record.filename, "source": record.source, "status": record.status,
        "started_at": record.started_at, "finished_at": record.finished_at, "rows_read": record.rows_read,
        "inserted": record.inserted, "duplicates": record.duplicates, "rejected": record.rejected,
        "error": record.error, "report": record.report,
    }


@router.get("", summary="Incidents as a GeoJSON FeatureCollection (points: analysts and above)")
def list_incidents(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Analyst,
    bbox: BBox,
    dates: DateRangeDep,
    category: Annotated[list[ShortText] | None, Query(description="One or more categories")] = None,
    community: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Community id")] = None,
    source: Annotated[list[ShortText] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page size (capped by the server)")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor from the previous page's next link")] = None,
) -> dict[str, Any]:
    filters = IncidentFilter(
        bbox=bbox, start=dates.start, end=dates.end, categories=tuple(category or ()),
        community_id=community, sources=tuple(source or ()),
    )
    page_size = min(limit or settings.incidents_page_default, settings.incidents_page_max)
    page = incident_page(session, filters, after=after, limit=page_size, base_url=request.url)
    record(session, action="incidents.read", principal=user, request=request, target="/api/v1/incidents",
           details={"filters": [list(item) for item in request.query_params.multi_items()],
                    "returned": page["numberReturned"]})
    return page


def _zone(name: str | None, settings: Settings) -> ZoneInfo:
    if not name:
        return settings.zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"Unknown time zone {name!r}; use a name such as America/St_Kitts.") from exc
