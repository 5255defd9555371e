"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0; Part 3: queryables and simple
property filters) over the service's layers, per audience.

Collections: ``communities`` (the active boundary set, with incident totals), one ``run-{id}`` per
completed run the caller may see (its cells; QGIS lists each run as a layer), and ``incidents``
for analysts and above. Every row comes through the same services and store reads as the API's own
listings, so the privacy tier is the same: below analyst, shared runs' published cells only, counts
under k empty, a scoped partner only its communities; no incidents at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import h3
import shapely

from app.errors import Forbidden, NotFound
from app.formats import Feature
from app.formats.geojson import feature_object
from app.privacy import Audience
from app.runs import Run
from app.services import communities as community_service
from app.services import run_results, run_words
from app.services.incident_query import incident_feature, incident_rows
from app.services.ogc_query import CRS84, Interval, ItemQuery, Queryable, queryables_document, run_period
from app.store.backends import Store
from app.store.incidents import IncidentFilter

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
CONFORMANCE = [CORE, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
               "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
               "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters"]
GEOJSON = "application/geo+json"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
RUN_PREFIX = "run-"
RUNS_LISTED = 200  # the newest runs the caller may see, each a collection
PageUrl = Callable[[str], str]
RunExtents = dict[tuple[int, tuple[int, ...] | None], tuple[float, float, float, float] | None]
EXTENTS_KEPT = 2000  # a completed run's cells never change, so its extent is worked out once per scope

COMMUNITY_QUERYABLES = [Queryable("name", "string", "Community name"), Queryable("code", "string", "Community code")]
INCIDENT_QUERYABLES = [Queryable("category", "string", "Category"), Queryable("source", "string", "Source"),
                       Queryable("community_id", "integer", "Community id")]


def collection(collection_id: str, title: str, description: str, base: str,
               extent: dict[str, Any] | None = None) -> dict[str, Any]:
    url = f"{base}/collections/{collection_id}"
    found: dict[str, Any] = {"id": collection_id, "title": title, "description": description, "itemType": "feature",
             "crs": [CRS84],
             "links": [{"rel": "self", "type": "application/json", "href": url},
                       {"rel": "alternate", "type": "text/html", "href": f"{url}?f=html"},
                       {"rel": "items", "type": GEOJSON, "href": f"{url}/items"},
                       {"rel": "items", "type": "text/html", "href": f"{url}/items?f=html"},
                       {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
                        "href": f"{url}/queryables"}]}
    if extent:
        found["extent"] = extent
    return found


def _extent(box: tuple[float, float, float, float] | None,
            period: tuple[datetime | None, datetime | None] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if box is not None:
        found["spatial"] = {"bbox": [[round(v, 6) for v in box]], "crs": CRS84}
    if period is not None and period != (None, None):
        found["temporal"] = {"interval": [[t.isoformat() if t else None for t in period]], "trs": GREGORIAN}
    return found


def run_queryables(run: Run) -> list[Queryable]:
    """A run's cells are filtered on their community and the kind's class (``gi_bin`` for Gi*)."""
    scheme = run.kind.class_field
    return [Queryable("community_id", "integer", "Community id"),
            Queryable(scheme, "integer", f"Class ({scheme})")]


def run_extent(store: Store, run: Run, audience: Audience, kept: RunExtents) -> tuple[float, float, float, float] | None:
    """The lon/lat box of the run's cells this audience may see (a scoped partner's: its communities'),
    kept in ``kept`` (a completed run's cells never change): /collections lists up to 200 runs."""
    scope = run_results.scope_ids(store, run, audience)
    key = (run.id, tuple(scope) if scope is not None else None)
    if key not in kept:
        if len(kept) >= EXTENTS_KEPT:
            kept.clear()
        kept[key] = store.tiles.run_extent(run.id, scope)
    return kept[key]


def _run_collection(store: Store, run: Run, audience: Audience, base: str, zone: ZoneInfo,
                    kept: RunExtents) -> dict[str, Any]:
    resolution = run.parameters.resolution
    box = run_extent(store, run, audience, kept)
    return collection(f"{RUN_PREFIX}{run.id}", f"{run_words.run_title(run)}: cells (H3 resolution {resolution})",
                      " · ".join(run_results.run_facts(run, audience)), base,
                      _extent(box, run_period(run.parameters.start, run.parameters.end, zone)))


def _communities_collection(store: Store, audience: Audience, base: str) -> dict[str, Any]:
    names = sorted(audience.communities) if audience.communities is not None else None
    return collection("communities", "Communities", "Communities of the active boundary set, with incident totals"
                      + ("" if audience.raw else " (counts under the privacy threshold hidden)")
                      + "; they have no time, so datetime does not filter them", base,
                      _extent(store.tiles.active_communities_extent(names)))


def _incidents_collection(store: Store, base: str) -> dict[str, Any]:
    return collection("incidents", "Incidents", "Incident points (police data: analysts and above); datetime "
                      "filters on the time each occurred", base,
                      _extent(store.tiles.incidents_extent(), store.boundaries.incident_time_range()))


def collections(store: Store, audience: Audience, base: str, zone: ZoneInfo,
                kept: RunExtents) -> list[dict[str, Any]]:
    """The collections this audience may read, with their extents."""
    found = [_communities_collection(store, audience, base)]
    if audience.raw:
        found.append(_incidents_collection(store, base))
    runs = run_results.visible_runs(store, audience, limit=RUNS_LISTED, before_id=None)
    found += [_run_collection(store, run, audience, base, zone, kept) for run in runs if run.completed]
    return found


def one_collection(store: Store, audience: Audience, collection_id: str, base: str, zone: ZoneInfo,
                   kept: RunExtents) -> dict[str, Any]:
    """One collection this audience may read (404, or 403 for incidents below analyst)."""
    if collection_id.startswith(RUN_PREFIX):
        return _run_collection(store, _run(store, audience, collection_id), audience, base, zone, kept)
    if collection_id == "communities":
        return _communities_collection(store, audience, base)
    if collection_id == "incidents" and audience.raw:
        return _incidents_collection(store, base)
    raise _missing(collection_id, audience)


def queryables(store: Store, audience: Audience, collection_id: str) -> list[Queryable]:
    """What a collection's items may be filtered on with ``?name=value``."""
    if collection_id.startswith(RUN_PREFIX):
        return run_queryables(_run(store, audience, collection_id))
    if collection_id == "communities":
        return COMMUNITY_QUERYABLES
    if collection_id == "incidents" and audience.raw:
        return INCIDENT_QUERYABLES
    raise _missing(collection_id, audience)


def queryables_of(store: Store, audience: Audience, collection_id: str, url: str) -> dict[str, Any]:
    """The queryables document (JSON Schema) of a collection."""
    temporal = {"communities": None, "incidents": "When the incident occurred"}.get(
        collection_id, "The run's period (a run's cells are in the result when its period overlaps)")
    return queryables_document(collection_id, collection_id, queryables(store, audience, collection_id), url, temporal)


def class_colours(store: Store, audience: Audience, collection_id: str) -> dict[str, Any] | None:
    """For a run's cells: the class field and its map colours in each palette (the HTML page colours cells as
    the maps do, in the colours chosen with the maps' "Colour-blind-safe colours" switch)."""
    if not collection_id.startswith(RUN_PREFIX):
        return None
    kind = _run(store, audience, collection_id).kind
    scheme = next(s for s in kind.schemes if s.field == kind.class_field)
    return {"field": scheme.field, "palettes": scheme.palettes()}


def _missing(collection_id: str, audience: Audience) -> Exception:
    if collection_id == "incidents" and not audience.raw:
        return Forbidden("Incident points are for analysts and above.")
    return NotFound(f"There is no collection {collection_id!r}.")


def _run(store: Store, audience: Audience, collection_id: str) -> Run:
    run_id = whole_number(collection_id[len(RUN_PREFIX):])
    if run_id is None:
        raise NotFound(f"There is no collection {collection_id!r}.")
    return run_results.visible_completed_run(store, run_id, audience)


def items(store: Store, audience: Audience, collection_id: str, query: ItemQuery, page_url: PageUrl,
          zone: ZoneInfo) -> dict[str, Any]:
    """One page of a collection's features (``query`` checked against its queryables by the caller);
    ``page_url(cursor)`` makes the next link."""
    if collection_id == "communities":
        return _community_items(store, audience, query, page_url)
    if collection_id.startswith(RUN_PREFIX):
        return _cell_items(store, audience, _run(store, audience, collection_id), query, page_url, zone)
    if collection_id == "incidents" and audience.raw:
        return _incident_items(store, query, page_url)
    raise _missing(collection_id, audience)


def _community_items(store: Store, audience: Audience, query: ItemQuery, page_url: PageUrl) -> dict[str, Any]:
    box = shapely.box(*query.bbox) if query.bbox is not None else None
    shown = [f for f in community_service.community_features(store, audience)
             if isinstance(f.geometry, bytes) and (box is None or shapely.intersects(shapely.from_wkb(f.geometry), box))
             and all(f.properties.get(name) == value for name, value in query.properties.items())]
    start = _number(query.cursor) or 0
    page = shown[start:start + query.limit]
    more = start + query.limit < len(shown)
    return _page(page, str(start + query.limit) if more else None, page_url, matched=len(shown))


def _cell_items(store: Store, audience: Audience, run: Run, query: ItemQuery, page_url: PageUrl,
                zone: ZoneInfo) -> dict[str, Any]:
    """Cells in cell order, filtered in the store (box by the spatial index, community, class)."""
    if query.interval is not None and not query.interval.overlaps(*run_period(run.parameters.start,
                                                                              run.parameters.end, zone)):
        return _page([], None, page_url, matched=0)
    after = int(query.cursor, 16) if query.cursor and _is_cell(query.cursor) else None
    if query.cursor and after is None:
        raise NotFound("The cursor is not one this service gave; start again from the first page.")
    classed = query.properties.get(run.kind.class_field)
    community_id = query.properties.get("community_id")
    filters: dict[str, Any] = {"community_id": community_id, "classes": [classed] if classed is not None else None,
                               "within": run_results.scope_ids(store, run, audience), "published": not audience.raw,
                               "kind": run.kind, "bbox": query.bbox}
    rows = store.runs.cell_page(run.id, after_cell=after, limit=query.limit + 1, **filters)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    next_cursor = f"{int(rows[-1]['cell']):x}" if more else None  # before the rows are shaped (H3 text)
    features = [run_results.cell_feature(row, audience) for row in rows]
    return _page(features, next_cursor, page_url, matched=store.runs.count_cells(run.id, **filters))


def incident_filter(query: ItemQuery) -> IncidentFilter:
    """The store's incident filter for an items query (``datetime`` on the time each occurred)."""
    interval = query.interval or Interval(None, None)
    props = query.properties
    return IncidentFilter(bbox=query.bbox, start=interval.start, end=interval.end,
                          categories=(str(props["category"]),) if "category" in props else (),
                          sources=(str(props["source"]),) if "source" in props else (),
                          community_id=int(props["community_id"]) if "community_id" in props else None)


def _incident_items(store: Store, query: ItemQuery, page_url: PageUrl) -> dict[str, Any]:
    filters = incident_filter(query)
    rows, more = incident_rows(store, filters, after=_number(query.cursor), limit=query.limit)
    return _page([incident_feature(r) for r in rows], str(rows[-1]["id"]) if more else None, page_url,
                 matched=store.incidents.count_incidents(filters))


def one_item(store: Store, audience: Audience, collection_id: str, feature_id: str) -> dict[str, Any]:
    """One feature of a collection (404 when there is none, or the audience may not see it)."""
    if collection_id == "communities":
        for feature in community_service.community_features(store, audience):
            if str(feature.id) == feature_id:
                return feature_object(feature)
    elif collection_id.startswith(RUN_PREFIX):
        run = _run(store, audience, collection_id)
        if _is_cell(feature_id):
            cell = int(feature_id, 16)
            rows = store.runs.cell_page(run.id, after_cell=cell - 1, limit=1,
                                        within=run_results.scope_ids(store, run, audience),
                                        published=not audience.raw, kind=run.kind)
            if rows and int(rows[0]["cell"]) == cell:
                return feature_object(run_results.cell_feature(rows[0], audience))
    elif collection_id == "incidents" and audience.raw:
        number = whole_number(feature_id)
        if number is not None:
            rows, _ = incident_rows(store, IncidentFilter(), after=number - 1, limit=1)
            if rows and rows[0]["id"] == number:
                return feature_object(incident_feature(rows[0]))
    else:
        raise _missing(collection_id, audience)
    raise NotFound(f"There is no feature {feature_id!r} in {collection_id!r}.")


def _page(features: list[Feature], next_cursor: str | None, page_url: PageUrl,
          matched: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "FeatureCollection", "features": [feature_object(f) for f in features]}
    if matched is not None:
        body["numberMatched"] = matched
    body["numberReturned"] = len(features)
    body["links"] = [{"rel": "next", "type": GEOJSON, "href": page_url(next_cursor)}] if next_cursor else []
    return body


def whole_number(text: str) -> int | None:
    """``text`` as a whole number when it is written in ASCII digits only (at most 18: within a bigint), else None.

    ``str.isdigit`` alone admits "²" (which ``int`` then refuses: a 500) and "٣" (which ``int`` reads as 3:
    a second name for the same feature)."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _number(cursor: str | None) -> int | None:
    """A page cursor this service gave (a position or an incident id); 404 for anything else."""
    if cursor is None:
        return None
    number = whole_number(cursor)
    if number is None:
        raise NotFound("The cursor is not one this service gave; start again from the first page.")
    return number


def _is_cell(text: str) -> bool:
    try:
        return h3.is_valid_cell(text)
    except (ValueError, TypeError):
        return False
