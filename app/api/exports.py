"""Serving outputs over HTTP through the format registry (app/formats): the ``format`` parameter,
file downloads and GeoJSON pages.

The allowed ``format`` values come from the registry, so OpenAPI lists every format a route
can write; privacy shaping happens before a row reaches a formatter, never inside one.
"""

# No ``from __future__ import annotations``: FastAPI must read the ``format`` parameter's type,
# built from the registry in a closure, as an object rather than as text.
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from app.formats import FORMATS, About, Feature, Formatter, accepted_names, format_names, formatter
from app.formats.geojson import GeoJsonFormat

GEOJSON = GeoJsonFormat()


def format_parameter(*, default: str, geometry: bool = True, listing: str | None = None,
                     ) -> Callable[..., Awaitable[Formatter | None]]:
    """A dependency reading ``?format=``: one of the registry's formats (only those that need no
    geometry when ``geometry`` is false), or the route's own JSON ``listing`` (answered as None)."""
    names = ((listing,) if listing else ()) + accepted_names(geometry=geometry)
    choices = Literal[names]  # type: ignore[valid-type]  # built from the registry at start-up

    async def choose(format: Annotated[choices, Query()] = default) -> Formatter | None:  # type: ignore[valid-type]
        return None if format == listing else formatter(format)

    return choose


def download_responses(*, geometry: bool = True, paged: str | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI: the media types a route's 200 answer may have: JSON (its listing, or the ``paged``
    format's pages), and each format it offers as a download."""
    media: dict[str, Any] = {"application/json": {}}
    media.update({FORMATS[n].media_type: {} for n in format_names(geometry=geometry) if n != paged})
    return {200: {"content": media}}


def download(chosen: Formatter, features: Iterable[Feature], columns: Sequence[str], stem: str,
             about: About | None = None) -> StreamingResponse:
    """A file of every row, streamed as it is read, named ``stem`` plus the format's extension
    (``about``: its README, for the formats with room for one).

    The first piece is made here, inside the route: a GIS file is written whole before its first
    byte, and a failure then still answers as an error rather than as a cut-off download."""
    pieces = chosen.write(features, columns, about=about)
    first = next(pieces, b"")
    return StreamingResponse(chain((first,), pieces), media_type=chosen.media_type,
                             headers={"Content-Disposition": f'attachment; filename="{stem}.{chosen.extension}"'})


def geojson_page(features: Iterable[Feature], members: Mapping[str, Any]) -> Response:
    """One page of the API's GeoJSON listing (with ``numberReturned``, ``next`` and such after the
    features). Served as ``application/json``, as the API's listings always have been."""
    return Response(b"".join(GEOJSON.write(features, (), members)), media_type="application/json")
