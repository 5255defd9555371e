"""OGC API – Features under /ogc, for QGIS, ArcGIS Pro and GDAL (``OAPIF:`` datasets): the same
tokens and the same privacy tiers as the rest of the API (app/services/ogc_features.py).

Every document is JSON (GeoJSON for features) unless the client asks for HTML, by ``?f=html`` or an
``Accept`` header preferring ``text/html`` (a browser): then the same content as a page, with the
same Content-Security-Policy as the other pages, and a browser without a session is sent to sign in.

No answer may be kept by any cache (incident points, a partner's scope: ``private, no-store``), and since
one URL gives JSON or HTML by the Accept header and differs by the caller, each says ``Vary`` on both.
A query parameter given twice is refused (400) on every route rather than one of its values kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import BBox, SettingsDep, ShortText, StoreDep, _bearer, get_page_principal, get_principal
from app.audit import record
from app.auth import Principal
from app.errors import BadRequest
from app.formats.geojson import dumps
from app.privacy import Audience, audience_for
from app.services import ogc_features as ogc
from app.services.ogc_query import ItemQuery, check_bbox_crs, one_value_each, parse_datetime, property_filters
from app.templating import JSON_TYPES, page_headers, prefers_html, templates


def refuse_repeated_parameters(request: Request) -> None:
    """400 when a query parameter is given more than once (``?gi_bin=3&gi_bin=-3``): never keep one silently."""
    one_value_each(request.query_params.multi_items())


router = APIRouter(prefix="/ogc", tags=["ogc api features"], dependencies=[Depends(refuse_repeated_parameters)])

MAX_ITEMS = 10_000
PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Accept, Authorization, Cookie"}


def wants_html(request: Request) -> bool:
    """``?f=html``, or no ``f`` and an Accept header that prefers text/html to JSON (browsers)."""
    chosen = request.query_params.get("f")
    if chosen is not None:
        if chosen not in ("html", "json", "geojson"):
            raise BadRequest("f must be json or html.")
        return chosen == "html"
    return prefers_html(request, JSON_TYPES)


def get_ogc_reader(request: Request, store: StoreDep,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """Who is asking (any signed-in role; anonymous only with public access): an HTML request without a
    session is sent to the sign-in page, a JSON one answers 401."""
    if wants_html(request):
        return get_page_principal(request, store, credentials)
    return get_principal(request, store, credentials)


OgcReader = Annotated[Principal, Depends(get_ogc_reader)]


def _base(request: Request) -> str:
    return str(request.url_for("ogc_landing")).rstrip("/")


def _answer(request: Request, settings: SettingsDep, user: Principal, body: dict[str, Any], *, template: str,
            title: str, media_type: str = "application/json", **context: Any) -> Response:
    """The document as JSON, or as an HTML page when the client asked for one."""
    if wants_html(request):
        return templates.TemplateResponse(request, template, {"user": user, "body": body, "title": title,
                                                              "base": _base(request),
                                                              "json_url": str(request.url.include_query_params(f="json")),
                                                              **context},
                                          headers={**page_headers(settings), **PRIVATE})
    return Response(dumps(body), media_type=media_type, headers=PRIVATE)


def _alternate(request: Request, media_type: str = "application/json") -> list[dict[str, str]]:
    return [{"rel": "self", "type": media_type, "href": str(request.url.remove_query_params("f"))},
            {"rel": "alternate", "type": "text/html", "href": str(request.url.include_query_params(f="html"))}]


def _audience(user: Principal, settings: SettingsDep) -> Audience:
    return audience_for(user, settings)


def _kept_extents(request: Request) -> ogc.RunExtents:
    """Completed runs' extents, kept by the app (app/main.py) for the life of the process."""
    return request.app.state.run_extents


@router.get("", name="ogc_landing", summary="OGC API – Features: landing page",
            responses={200: {"content": {"text/html": {}}}})
def landing(request: Request, user: OgcReader, settings: SettingsDep) -> Response:
    base = _base(request)
    body = {"title": "Crime hot spots", "description": "Communities, hot spot runs' cells and (police) incidents",
            "links": [*_alternate(request),
                      {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                       "href": str(request.url_for("openapi"))},
                      {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                      {"rel": "data", "type": "application/json", "href": f"{base}/collections"}]}
    return _answer(request, settings, user, body, template="ogc_document.html", title="OGC API – Features")


@router.get("/conformance", summary="OGC API – Features: conformance classes",
            responses={200: {"content": {"text/html": {}}}})
def conformance(request: Request, user: OgcReader, settings: SettingsDep) -> Response:
    body = {"conformsTo": ogc.CONFORMANCE, "links": _alternate(request)}
    return _answer(request, settings, user, body, template="ogc_document.html", title="Conformance classes")


@router.get("/collections", summary="OGC API – Features: the collections the caller may read",
            responses={200: {"content": {"text/html": {}}}})
def collections(request: Request, store: StoreDep, user: OgcReader, settings: SettingsDep) -> Response:
    body = {"collections": ogc.collections(store, _audience(user, settings), _base(request), settings.zone,
                                               _kept_extents(request)),
            "links": _alternate(request)}
    return _answer(request, settings, user, body, template="ogc_document.html", title="Collections")


@router.get("/collections/{collection_id}", summary="OGC API – Features: one collection",
            responses={200: {"content": {"text/html": {}}}})
def one_collection(collection_id: ShortText, request: Request, store: StoreDep, user: OgcReader,
                   settings: SettingsDep) -> Response:
    body = ogc.one_collection(store, _audience(user, settings), collection_id, _base(request), settings.zone,
                              _kept_extents(request))
    return _answer(request, settings, user, body, template="ogc_document.html", title=body["title"])


@router.get("/collections/{collection_id}/queryables", summary="OGC API – Features: what items may be filtered on",
            responses={200: {"content": {"application/schema+json": {}, "text/html": {}}}})
def queryables(collection_id: ShortText, request: Request, store: StoreDep, user: OgcReader,
               settings: SettingsDep) -> Response:
    url = str(request.url.remove_query_params("f"))
    body = ogc.queryables_of(store, _audience(user, settings), collection_id, url)
    return _answer(request, settings, user, body, template="ogc_document.html", title=body["title"],
                   media_type="application/schema+json")


@router.get("/collections/{collection_id}/items", summary="OGC API – Features: a page of a collection's features",
            description="Besides `limit`, `bbox` and `datetime`, each of the collection's queryables "
                        "(`/collections/{collection_id}/queryables`) filters by equality, e.g. `?gi_bin=3`.",
            responses={200: {"content": {ogc.GEOJSON: {}, "text/html": {}}}})
def items(collection_id: ShortText, request: Request, store: StoreDep, user: OgcReader, settings: SettingsDep,
          bbox: BBox,
          limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = 100,
          datetime: Annotated[ShortText | None, Query(
              description="An RFC 3339 instant or interval (start/end, `..` for an open end); incidents by when "
                          "they occurred, a run's cells when the run's period overlaps")] = None,
          cursor: Annotated[ShortText | None, Query(description="From the previous page's next link")] = None,
          ) -> Response:
    audience = _audience(user, settings)
    params = one_value_each(request.query_params.multi_items())
    check_bbox_crs(params)
    query = ItemQuery(bbox=bbox, interval=parse_datetime(datetime, settings.zone), limit=limit, cursor=cursor,
                      properties=property_filters(params, ogc.queryables(store, audience, collection_id),
                                                  collection_id))
    page = ogc.items(store, audience, collection_id, query, zone=settings.zone,
                     page_url=lambda after: str(request.url.include_query_params(cursor=after, limit=limit)))
    if collection_id == "incidents":
        record(store, action="incidents.read", principal=user, request=request, target=str(request.url.path),
               details={"filters": [list(item) for item in request.query_params.multi_items()],
                        "returned": page["numberReturned"]})
    page["links"][:0] = _alternate(request, ogc.GEOJSON)
    if not wants_html(request):
        return Response(dumps(page), media_type=ogc.GEOJSON, headers=PRIVATE)
    return _answer(request, settings, user, page, template="ogc_items.html", title=f"{collection_id}: features",
                   collection_id=collection_id, classes=ogc.class_colours(store, audience, collection_id))


@router.get("/collections/{collection_id}/items/{feature_id}", summary="OGC API – Features: one feature",
            responses={200: {"content": {ogc.GEOJSON: {}, "text/html": {}}}})
def one_item(collection_id: ShortText, feature_id: ShortText, request: Request, store: StoreDep, user: OgcReader,
             settings: SettingsDep) -> Response:
    feature = ogc.one_item(store, _audience(user, settings), collection_id, feature_id)
    if collection_id == "incidents":
        record(store, action="incidents.read", principal=user, request=request, target=str(request.url.path),
               details={"returned": 1})
    feature["links"] = _alternate(request, ogc.GEOJSON)
    page = {"type": "FeatureCollection", "features": [feature], "links": feature["links"]}
    if wants_html(request):
        return _answer(request, settings, user, page, template="ogc_items.html",
                       title=f"{collection_id}: {feature_id}", collection_id=collection_id)
    return Response(dumps(feature), media_type=ogc.GEOJSON, headers=PRIVATE)
