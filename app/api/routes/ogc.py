"""OGC API – Features under /ogc, for QGIS, ArcGIS Pro and GDAL (``OAPIF:`` datasets): the same
tokens and the same privacy tiers as the rest of the API (app/services/ogc_features.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import AudienceDep, BBox, Reader, ShortText, StoreDep
from app.audit import record
from app.formats.geojson import dumps
from app.services import ogc_features as ogc

router = APIRouter(prefix="/ogc", tags=["ogc api features"])

MAX_ITEMS = 10_000


def _base(request: Request) -> str:
    return str(request.url_for("ogc_landing")).rstrip("/")


def _geojson(body: dict[str, Any]) -> Response:
    return Response(dumps(body), media_type=ogc.GEOJSON)


@router.get("", name="ogc_landing", summary="OGC API – Features: landing page")
def landing(request: Request, _: Reader) -> dict[str, Any]:
    base = _base(request)
    return {"title": "Crime hot spots", "description": "Communities, hot spot runs' cells and (police) incidents",
            "links": [{"rel": "self", "type": "application/json", "href": base},
                      {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                       "href": str(request.url_for("openapi"))},
                      {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                      {"rel": "data", "type": "application/json", "href": f"{base}/collections"}]}


@router.get("/conformance", summary="OGC API – Features: conformance classes")
def conformance(_: Reader) -> dict[str, Any]:
    return {"conformsTo": ogc.CONFORMANCE}


@router.get("/collections", summary="OGC API – Features: the collections the caller may read")
def collections(request: Request, store: StoreDep, _: Reader, audience: AudienceDep) -> dict[str, Any]:
    base = _base(request)
    return {"collections": ogc.collections(store, audience, base),
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}]}


@router.get("/collections/{collection_id}", summary="OGC API – Features: one collection")
def one_collection(collection_id: ShortText, request: Request, store: StoreDep, _: Reader,
                   audience: AudienceDep) -> dict[str, Any]:
    return ogc.one_collection(store, audience, collection_id, _base(request))


@router.get("/collections/{collection_id}/items", summary="OGC API – Features: a page of a collection's features",
            responses={200: {"content": {ogc.GEOJSON: {}}}})
def items(collection_id: ShortText, request: Request, store: StoreDep, user: Reader, audience: AudienceDep,
          bbox: BBox,
          limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = 100,
          cursor: Annotated[ShortText | None, Query(description="From the previous page's next link")] = None,
          ) -> Response:
    page = ogc.items(store, audience, collection_id, bbox=bbox, limit=limit, cursor=cursor,
                     page_url=lambda after: str(request.url.include_query_params(cursor=after, limit=limit)))
    if collection_id == "incidents":
        record(store, action="incidents.read", principal=user, request=request, target=str(request.url.path),
               details={"filters": [list(item) for item in request.query_params.multi_items()],
                        "returned": page["numberReturned"]})
    page["links"].insert(0, {"rel": "self", "type": ogc.GEOJSON, "href": str(request.url)})
    return _geojson(page)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="OGC API – Features: one feature",
            responses={200: {"content": {ogc.GEOJSON: {}}}})
def one_item(collection_id: ShortText, feature_id: ShortText, request: Request, store: StoreDep, user: Reader,
             audience: AudienceDep) -> Response:
    feature = ogc.one_item(store, audience, collection_id, feature_id)
    if collection_id == "incidents":
        record(store, action="incidents.read", principal=user, request=request, target=str(request.url.path),
               details={"returned": 1})
    return _geojson(feature)
