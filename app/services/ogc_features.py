"""OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0) over the service's layers, per audience.

Collections: ``communities`` (the active boundary set, with incident totals), one ``run-{id}`` per
completed run the caller may see (its cells; QGIS lists each run as a layer), and ``incidents``
for analysts and above. Every row comes through the same services as the API's own listings, so
the privacy tier is the same: below analyst, shared runs' published cells only, counts under k
empty, a scoped partner only its communities; no incidents at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h3
import shapely

from app.errors import Forbidden, NotFound
from app.formats import Feature
from app.formats.geojson import feature_object
from app.privacy import Audience
from app.runs import Run
from app.services import communities as community_service
from app.services import run_results
from app.services.incident_query import incident_feature, incident_rows
from app.store.backends import Store
from app.store.incidents import IncidentFilter

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
CONFORMANCE = [CORE, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
RUN_PREFIX = "run-"
RUNS_LISTED = 200  # the newest runs the caller may see, each a collection
BBox = tuple[float, float, float, float] | None


def collection(collection_id: str, title: str, description: str, base: str) -> dict[str, Any]:
    url = f"{base}/collections/{collection_id}"
    return {"id": collection_id, "title": title, "description": description, "itemType": "feature",
            "crs": [CRS84],
            "links": [{"rel": "self", "type": "application/json", "href": url},
                      {"rel": "items", "type": GEOJSON, "href": f"{url}/items"}]}


def _run_collection(run: Run, audience: Audience, base: str) -> dict[str, Any]:
    resolution = run.parameters.resolution
    return collection(f"{RUN_PREFIX}{run.id}", f"{run.kind.heading} {run.id}: cells (H3 resolution {resolution})",
                      " · ".join(run_results.run_facts(run, audience)), base)


def collections(store: Store, audience: Audience, base: str) -> list[dict[str, Any]]:
    """The collections this audience may read."""
    found = [collection("communities", "Communities", "Communities of the active boundary set, with incident "
                        "totals" + ("" if audience.raw else " (counts under the privacy threshold hidden)"), base)]
    if audience.raw:
        found.append(collection("incidents", "Incidents", "Incident points (police data: analysts and above)", base))
    runs = run_results.visible_runs(store, audience, limit=RUNS_LISTED, before_id=None)
    found += [_run_collection(run, audience, base) for run in runs if run.completed]
    return found


def one_collection(store: Store, audience: Audience, collection_id: str, base: str) -> dict[str, Any]:
    if collection_id.startswith(RUN_PREFIX):
        return _run_collection(_run(store, audience, collection_id), audience, base)
    for found in collections(store, audience, base)[:2]:
        if found["id"] == collection_id:
            return found
    raise _missing(collection_id, audience)


def _missing(collection_id: str, audience: Audience) -> Exception:
    if collection_id == "incidents" and not audience.raw:
        return Forbidden("Incident points are for analysts and above.")
    return NotFound(f"There is no collection {collection_id!r}.")


def _run(store: Store, audience: Audience, collection_id: str) -> Run:
    try:
        run_id = int(collection_id[len(RUN_PREFIX):])
    except ValueError:
        raise NotFound(f"There is no collection {collection_id!r}.") from None
    return run_results.visible_completed_run(store, run_id, audience)


def _intersects(bbox: BBox) -> Callable[[Any], bool]:
    if bbox is None:
        return lambda geometry: True
    box = shapely.box(*bbox)
    return lambda geometry: bool(shapely.intersects(geometry, box))


def items(store: Store, audience: Audience, collection_id: str, *, bbox: BBox, limit: int, cursor: str | None,
          page_url: Callable[[str], str]) -> dict[str, Any]:
    """One page of a collection's features; ``cursor`` from the previous page's next link;
    ``page_url(cursor)`` makes the next link."""
    if collection_id == "communities":
        return _community_items(store, audience, bbox, limit, cursor, page_url)
    if collection_id.startswith(RUN_PREFIX):
        return _cell_items(store, audience, _run(store, audience, collection_id), bbox, limit, cursor, page_url)
    if collection_id == "incidents" and audience.raw:
        rows, more = incident_rows(store, IncidentFilter(bbox=bbox), after=_number(cursor), limit=limit)
        return _page([incident_feature(r) for r in rows], str(rows[-1]["id"]) if more else None, page_url)
    raise _missing(collection_id, audience)


def _community_items(store: Store, audience: Audience, bbox: BBox, limit: int, cursor: str | None,
                     page_url: Callable[[str], str]) -> dict[str, Any]:
    inside = _intersects(bbox)
    shown = [f for f in community_service.community_features(store, audience)
             if isinstance(f.geometry, bytes) and inside(shapely.from_wkb(f.geometry))]
    start = _number(cursor) or 0
    page = shown[start:start + limit]
    more = start + limit < len(shown)
    return _page(page, str(start + limit) if more else None, page_url, matched=len(shown))


def _cell_items(store: Store, audience: Audience, run: Run, bbox: BBox, limit: int, cursor: str | None,
                page_url: Callable[[str], str]) -> dict[str, Any]:
    """Cells in cell order; with a bbox, pages of the run are read until ``limit`` cells fall inside it."""
    within = run_results.scope_ids(store, run, audience)
    inside = _intersects(bbox)
    after = int(cursor, 16) if cursor and _is_cell(cursor) else None
    if cursor and after is None:
        raise NotFound("The cursor is not one this service gave; start again from the first page.")
    found: list[Feature] = []
    while len(found) < limit:
        rows = store.runs.cell_page(run.id, after_cell=after, limit=max(limit, 1000), within=within,
                                    published=not audience.raw, kind=run.kind)
        for row in rows:
            after = int(row["cell"])
            if inside(shapely.from_geojson(row["geometry"])):
                found.append(run_results.cell_feature(row, audience))
                if len(found) == limit:
                    break
        if len(rows) < max(limit, 1000):
            break
    more = len(found) == limit and bool(store.runs.cell_page(run.id, after_cell=after, limit=1, within=within,
                                                             published=not audience.raw, kind=run.kind))
    return _page(found, f"{after:x}" if more and after is not None else None, page_url)


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
        number = _number(feature_id)
        if number is not None:
            rows, _ = incident_rows(store, IncidentFilter(), after=number - 1, limit=1)
            if rows and rows[0]["id"] == number:
                return feature_object(incident_feature(rows[0]))
    else:
        raise _missing(collection_id, audience)
    raise NotFound(f"There is no feature {feature_id!r} in {collection_id!r}.")


def _page(features: list[Feature], next_cursor: str | None, page_url: Callable[[str], str],
          matched: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "FeatureCollection", "features": [feature_object(f) for f in features]}
    if matched is not None:
        body["numberMatched"] = matched
    body["numberReturned"] = len(features)
    body["links"] = [{"rel": "next", "type": GEOJSON, "href": page_url(next_cursor)}] if next_cursor else []
    return body


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 18:
        raise NotFound("The cursor is not one this service gave; start again from the first page.")
    return int(text)


def _is_cell(text: str) -> bool:
    try:
        return h3.is_valid_cell(text)
    except (ValueError, TypeError):
        return False
