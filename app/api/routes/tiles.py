"""Vector tiles (MVT) and TileJSON for MapLibre, QGIS and GDAL: hotspots, communities, incidents.

Every layer needs sign-in (or public access), so no tile may sit in a shared
cache: all are ``private``, and ``Vary`` on the credentials keeps one user's
copy from another on a shared browser. What differs is how long a browser may
keep them: a finished run's tiles never change for police (a year,
``immutable``); below analyst what is shown depends on privacy settings and a
partner's scope, so five minutes, then a 304; communities for a minute;
incidents must be revalidated every time (``no-cache``, answered by 304).
Hotspots and communities are served to every reader, shaped for its audience
(app/services/tiles.py); incidents only to analysts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.deps import Analyst, AudienceDep, Reader, SessionDep
from app.errors import NotFound
from app.privacy import Audience
from app.services import tilejson as tilejson_service
from app.services import tiles as tile_service
from app.services.tiles import MVT_MEDIA_TYPE, Tile, TileCache

router = APIRouter(prefix="/tiles", tags=["tiles"])

RunQuery = Annotated[int | None, Query(description="Analysis run id (hotspots layer)", ge=1)]
IfNoneMatch = Annotated[str | None, Header()]

CACHE_FINISHED_RUN = "private, max-age=31536000, immutable"
CACHE_FINISHED_RUN_RESTRICTED = "private, max-age=300"
CACHE_COMMUNITIES = "private, max-age=60"
CACHE_INCIDENTS = "private, no-cache"


def _cache(request: Request) -> TileCache:
    return request.app.state.tile_cache


def _headers(etag: str, cache_control: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, Cookie"}


def _response(tile: Tile, cache_control: str, if_none_match: str | None) -> Response:
    headers = _headers(tile.etag, cache_control)
    if tile_service.etag_matches(if_none_match, tile.etag):
        return Response(status_code=304, headers=headers)
    if not tile.content:
        return Response(status_code=204, headers=headers)
    return Response(tile.content, media_type=MVT_MEDIA_TYPE, headers=headers)


@router.get("/hotspots/{z}/{x}/{y}.mvt", name="hotspot_tile", summary="A finished run's hot and cold cells",
            response_class=Response, responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 204: {}, 304: {}})
def hotspot_tile(z: str, x: str, y: str, request: Request, session: SessionDep, _: Reader, audience: AudienceDep,
                 run: RunQuery = None, if_none_match: IfNoneMatch = None) -> Response:
    at = tile_service.parse_tile_address(z, x, y)
    finished = tile_service.finished_run(session, _cache(request), run, audience)
    cache_control = CACHE_FINISHED_RUN if audience.raw else CACHE_FINISHED_RUN_RESTRICTED
    etag = tile_service.hotspot_etag(finished.id, at, audience)
    if tile_service.etag_matches(if_none_match, etag):  # the run never changes: no need to draw it
        return Response(status_code=304, headers=_headers(etag, cache_control))
    tile = tile_service.hotspot_tile(session, _cache(request), finished, at, audience)
    return _response(tile, cache_control, None)


@router.get("/communities/{z}/{x}/{y}.mvt", name="communities_tile", summary="The active communities",
            response_class=Response, responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 204: {}, 304: {}})
def communities_tile(z: str, x: str, y: str, session: SessionDep, _: Reader, audience: AudienceDep,
                     if_none_match: IfNoneMatch = None) -> Response:
    tile = tile_service.communities_tile(session, tile_service.parse_tile_address(z, x, y), audience)
    return _response(tile, CACHE_COMMUNITIES, if_none_match)


@router.get("/incidents/{z}/{x}/{y}.mvt", name="incidents_tile", summary="Incidents (analysts and above)",
            response_class=Response, responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 204: {}, 304: {}})
def incidents_tile(z: str, x: str, y: str, session: SessionDep, _: Analyst,
                   if_none_match: IfNoneMatch = None,
                   outside: Annotated[bool, Query(description="Only incidents that lie in no community")] = False,
                   ) -> Response:
    tile = tile_service.incidents_tile(session, tile_service.parse_tile_address(z, x, y), outside)
    return _response(tile, CACHE_INCIDENTS, if_none_match)


@router.get("/{layer}/{z}/{x}/{y}.mvt", include_in_schema=False)
def unknown_layer_tile(layer: str, z: str, x: str, y: str, _: Reader) -> Response:
    raise NotFound(f"There is no tile layer {layer!r}; layers are {', '.join(tile_service.LAYERS)}.")


def _tilejson(request: Request, session: SessionDep, layer: str, run: int | None,
              audience: Audience) -> dict[str, Any]:
    url = f"{str(request.base_url).rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
    if run is not None:
        url += f"?run={run}"
    return tilejson_service.layer_tilejson(session, _cache(request), layer, url, run, audience)


@router.get("/hotspots.json", summary="TileJSON 3.0 for a run's hotspots layer")
def hotspots_tilejson(request: Request, session: SessionDep, _: Reader, audience: AudienceDep,
                      run: RunQuery = None) -> dict[str, Any]:
    return _tilejson(request, session, "hotspots", run, audience)


@router.get("/communities.json", summary="TileJSON 3.0 for the communities layer")
def communities_tilejson(request: Request, session: SessionDep, _: Reader, audience: AudienceDep) -> dict[str, Any]:
    return _tilejson(request, session, "communities", None, audience)


@router.get("/incidents.json", summary="TileJSON 3.0 for the incidents layer (analysts and above)")
def incidents_tilejson(request: Request, session: SessionDep, _: Analyst, audience: AudienceDep) -> dict[str, Any]:
    return _tilejson(request, session, "incidents", None, audience)


@router.get("/{layer}.json", include_in_schema=False)
def unknown_layer_tilejson(layer: str, _: Reader) -> dict[str, Any]:
    raise NotFound(f"There is no tile layer {layer!r}; layers are {', '.join(tile_service.LAYERS)}.")


