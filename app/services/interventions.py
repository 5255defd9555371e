"""Interventions: analysts record a programme (where, when, compared with what); everyone it is
shared with reads it under their privacy tier.

A target is some communities of the active boundary set, or a polygon drawn or uploaded as a
GeoJSON geometry. The buffer is the ring of H3 cells around the target (``buffer_rings`` rings at
the intervention's resolution); the comparison area is the communities chosen, or by default the
rest of the active communities. Each incident counts in the first area it lies in (target, then
buffer, then comparison), so a comparison community that a drawn target or its buffer reaches into
is compared without them; one wholly inside the target is refused. Dates are whole local days:
``starts_on`` to ``ends_on``, both included.

Partners and viewers see shared interventions only (the database's row-level security holds the
restricted role to them too), a partner limited to some communities only those touching its own;
anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from shapely import wkb

from app.errors import BadRequest, Conflict, NotFound
from app.privacy import Audience
from app.store.backends import Store
from spatial.grid import MAX_RESOLUTION, MIN_RESOLUTION
from spatial.outcomes.areas import AreaRefused, target_polygon

MAX_BUFFER_RINGS = 3
DEFAULT_RESOLUTION = 9
# Evaluation compares the programme with earlier windows of its own length: bounded so that they stay
# within dates a database and Python can hold.
EARLIEST_DATE, LATEST_DATE, MAX_DAYS = date(1900, 1, 1), date(2100, 12, 31), 3653
LIST_BATCH = 200  # rows read at a time while filling a page of the list


@dataclass(frozen=True)
class NewIntervention:
    """What an analyst records about a programme."""

    name: str
    starts_on: date
    ends_on: date
    partner: str | None = None
    target_communities: tuple[int, ...] = ()
    target_geometry: dict[str, Any] | None = None
    comparison_communities: tuple[int, ...] = ()
    resolution: int = DEFAULT_RESOLUTION
    buffer_rings: int = 1
    shared: bool = False


def create_intervention(store: Store, new: NewIntervention, *, user_id: int | None) -> dict[str, Any]:
    """Check and store an intervention; returns it as police see it."""
    _check_plain_fields(new)
    communities = active_communities(store)
    known = {c["id"]: c for c in communities}
    if bool(new.target_communities) == (new.target_geometry is not None):
        raise BadRequest("Give the target area either as target_communities (community ids) or as target_geometry "
                         "(a GeoJSON Polygon or MultiPolygon), not both and not neither.")
    _check_known(new.target_communities, known, "target_communities")
    _check_known(new.comparison_communities, known, "comparison_communities")
    overlap = set(new.target_communities) & set(new.comparison_communities)
    if overlap:
        raise BadRequest(f"Communities {sorted(overlap)} are in both the target and the comparison area; "
                         "the comparison area must be where the programme did not run.")
    if not new.comparison_communities and set(new.target_communities) >= set(known):
        raise BadRequest("The target area takes in every community, so nothing is left to compare it with: choose "
                         "fewer target communities, or give comparison_communities from another boundary set's area.")
    if new.target_geometry is not None:
        islands = shapely.union_all([c["shape"] for c in communities])
        try:
            polygon = target_polygon(new.target_geometry, islands)
        except AreaRefused as exc:
            raise BadRequest(str(exc)) from None
        inside = [known[i]["name"] for i in new.comparison_communities if known[i]["shape"].within(polygon)]
        if inside:
            raise BadRequest(f"The comparison area must be where the programme did not run, but {', '.join(inside)} "
                             f"{'lies' if len(inside) == 1 else 'lie'} wholly inside the target polygon.")
        names = [c["name"] for c in communities if c["shape"].intersects(polygon)]
        geometry: dict[str, Any] | None = shapely.geometry.mapping(polygon)
    else:
        names = [known[i]["name"] for i in new.target_communities]
        geometry = None
    intervention_id = store.interventions.create_intervention(
        name=new.name.strip(), partner=(new.partner or "").strip() or None,
        target_communities=list(new.target_communities) or None, target_geometry=_plain(geometry),
        communities=sorted(set(names)), resolution=new.resolution, buffer_rings=new.buffer_rings,
        comparison_communities=list(new.comparison_communities) or None, starts_on=new.starts_on,
        ends_on=new.ends_on, shared=new.shared, user_id=user_id)
    return _shown(_stored(store, intervention_id, published=False), raw=True)


def _check_plain_fields(new: NewIntervention) -> None:
    if not new.name.strip():
        raise BadRequest("Give the intervention a name, for example 'Basseterre youth outreach 2025'.")
    if new.ends_on < new.starts_on:
        raise BadRequest(f"The end date ({new.ends_on}) is before the start date ({new.starts_on}).")
    if new.starts_on < EARLIEST_DATE or new.ends_on > LATEST_DATE:
        raise BadRequest(f"Dates must be between {EARLIEST_DATE} and {LATEST_DATE}; got {new.starts_on} to "
                         f"{new.ends_on}. Dates are YYYY-MM-DD.")
    if (new.ends_on - new.starts_on).days + 1 > MAX_DAYS:
        raise BadRequest(f"The programme runs {(new.ends_on - new.starts_on).days + 1:,} days; at most {MAX_DAYS:,} "
                         "(ten years) can be evaluated, since it is compared with earlier periods of the same length.")
    if not MIN_RESOLUTION <= new.resolution <= MAX_RESOLUTION:
        raise BadRequest(f"H3 resolution {new.resolution} is outside {MIN_RESOLUTION}-{MAX_RESOLUTION} "
                         "(9 is about a city block: 0.1 km² a cell).")
    if not 0 <= new.buffer_rings <= MAX_BUFFER_RINGS:
        raise BadRequest(f"buffer_rings must be 0 (no buffer) to {MAX_BUFFER_RINGS}; 1 is one ring of cells around "
                         "the target.")


def _check_known(ids: tuple[int, ...], known: dict[int, dict[str, Any]], field: str) -> None:
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise BadRequest(f"{field}: {', '.join(map(str, unknown))} {'is not a community' if len(unknown) == 1 else 'are not communities'} "
                         "of the active boundary set. GET /api/v1/communities lists their ids.")


def active_communities(store: Store) -> list[dict[str, Any]]:
    """The active set's communities: id, name and shape (shapely)."""
    set_id = store.boundaries.active_boundary_set_id()
    if set_id is None:
        raise Conflict("There is no active boundary set yet: GIS staff upload and activate one first.")
    return [{"id": c["id"], "name": c["name"], "shape": wkb.loads(c["wkb"])}
            for c in store.boundaries.community_shapes(set_id, None)]


def _plain(geometry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A GeoJSON mapping with lists instead of tuples (what a JSON column stores)."""
    return None if geometry is None else json.loads(json.dumps(geometry))


def visible_intervention(store: Store, intervention_id: int, audience: Audience) -> dict[str, Any]:
    """The stored intervention if ``audience`` may see it, else 404 as if it did not exist."""
    row = store.interventions.get_intervention(intervention_id, published=not audience.raw)
    if row is None or not _in_scope(row, audience):
        raise NotFound(f"There is no intervention {intervention_id}.")
    return row


def _stored(store: Store, intervention_id: int, *, published: bool) -> dict[str, Any]:
    row = store.interventions.get_intervention(intervention_id, published=published)
    if row is None:
        raise NotFound(f"There is no intervention {intervention_id}.")
    return row


def _in_scope(row: dict[str, Any], audience: Audience) -> bool:
    return audience.raw or (bool(row["shared"]) and (audience.communities is None
                                                     or any(audience.sees_community(n) for n in row["communities"])))


def get_intervention(store: Store, intervention_id: int, audience: Audience) -> dict[str, Any]:
    """One intervention as ``audience`` may see it."""
    return _shown(visible_intervention(store, intervention_id, audience), raw=audience.raw)


def list_interventions(store: Store, audience: Audience, community: str | None = None, *,
                       limit: int | None = None, before: int | None = None) -> list[dict[str, Any]]:
    """The interventions ``audience`` may see (of one community, by name, when given), newest first;
    ``limit``: at most this many, ``before``: only older than this id (the cursor of the page before)."""
    shown: list[dict[str, Any]] = []
    # scope and community are read from each row, so rows are fetched a batch at a time until the page is full
    batch = None if limit is None else max(limit, LIST_BATCH)
    while limit is None or len(shown) < limit:
        rows = store.interventions.list_interventions(published=not audience.raw, before_id=before, limit=batch)
        shown += [_shown(r, raw=audience.raw) for r in rows
                  if _in_scope(r, audience) and (community is None or community in r["communities"])]
        if batch is None or len(rows) < batch:
            break
        before = rows[-1]["id"]
    return shown if limit is None else shown[:limit]


def require_known_community(store: Store, audience: Audience, name: str) -> None:
    """Refuse in words a community name the list cannot be filtered by: neither one of the active boundary set
    that ``audience`` may see nor one that an intervention it may see was recorded in (from an older set).
    A community outside a partner's scope is refused in the same words as one that does not exist, so that
    the filter does not tell which communities exist."""
    if any(c["name"] == name and audience.sees_community(name) for c in active_communities(store)):
        return
    if not list_interventions(store, audience, name, limit=1):
        raise BadRequest(f"There is no community called {name!r} in the active boundary set. "
                         "GET /api/v1/communities lists their names.")


def delete_intervention(store: Store, intervention_id: int) -> None:
    """Delete an intervention (and its kept evaluation)."""
    if not store.interventions.delete_intervention(intervention_id):
        raise NotFound(f"There is no intervention {intervention_id}.")
    store.session.commit()


def _shown(row: dict[str, Any], *, raw: bool) -> dict[str, Any]:
    """An intervention as the API shows it (without its kept evaluations, which have their own route)."""
    shown = {
        "id": row["id"], "name": row["name"], "partner": row["partner"],
        "target": ({"communities": row["target_communities"]} if row["target_communities"]
                   else {"geometry": row["target_geometry"]}),
        "communities": row["communities"], "resolution": row["resolution"], "buffer_rings": row["buffer_rings"],
        "comparison": ({"communities": row["comparison_communities"]} if row["comparison_communities"]
                       else {"communities": "the rest of the active communities"}),
        "starts_on": row["starts_on"].isoformat(), "ends_on": row["ends_on"].isoformat(), "shared": bool(row["shared"]),
        "created_at": row["created_at"].isoformat(timespec="seconds"),
        "evaluated_at": row["evaluated_at"].isoformat(timespec="seconds") if row["evaluated_at"] else None,
    }
    if raw:
        shown["created_by"] = row.get("created_by")
    return shown
