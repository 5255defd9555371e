"""Vector tiles for the map: which representation a tile gets, caching, ETags (TileJSON: app/services/tilejson.py).

Zoom → H3 resolution rule
-------------------------
A tile of zoom ``z`` draws cells at the finest H3 resolution whose average
hexagon edge is at least ``MIN_EDGE_PX`` (4) pixels of a 256-pixel tile at the
equator, where pixels cover the most ground (at latitude φ cells look
1/cos φ larger, so the rule errs towards fewer features)::

    z   0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22
    res 0 1 2 2 3 4 5 5 6 7  7  8  9  9 10 11 12 12 13 14 14 15 15

A run's own cells are drawn once the rule reaches the run's resolution (res
10 from z14); below that, the cells' H3 parents at the rule's resolution with
summed incidents and the strongest Gi_Bin class. That keeps a dense tile at a
few hundred features: a z10 tile of 68,000 resolution-10 cells would be
1.6 MB; with resolution-7 parents it is a few KB.

Never a truncated tile
----------------------
Each query asks for at most ``FEATURE_CAP + 1`` features. If it gets more
than the cap, or the tile is over ``MAX_TILE_BYTES``, the tile is built again
one H3 resolution coarser (hotspots, incidents) or simplified harder
(communities); a tile is never served cut short. If even the coarsest
representation does not fit, the request fails with a clear 413-style error.

Privacy tiers
-------------
Below analyst (app/privacy.py) a run the audience may not see does not exist
(404); counts under k are left out of every feature, parents included, and
flagged ``suppressed``; community counts come from the aggregate-only
database function. A partner limited to some communities gets only their
cells: parents mix communities, so at every zoom it is served the run's own
cells of its communities, and a tile too dense for that asks to zoom in
(413) rather than being cut short. Tiles are cached and tagged per audience
(``Audience.cache_key``), so one audience's bytes are never served to another.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from collections.abc import Generator
from typing import Any, Literal

import h3
from sqlalchemy.orm import Session

from app.errors import BadRequest, Conflict, NotFound, ServiceError
from app.privacy import Audience
from app.runs import Run
from app.services.run_results import visible_completed_run
from app.store import tiles as tile_store
from spatial.kinds import AnalysisKind

MAX_ZOOM = 22
MIN_EDGE_PX = 4
FEATURE_CAP = 8_000
MAX_TILE_BYTES = 500 * 1024
# Incidents are drawn as points from this zoom (if the tile has at most FEATURE_CAP of them).
INCIDENT_POINTS_MIN_ZOOM = 15
# Bump when the tile content or attributes change, so clients drop old copies.
TILE_FORMAT = "1"

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
Layer = Literal["hotspots", "communities", "incidents"]
LAYERS: tuple[str, ...] = ("hotspots", "communities", "incidents")

_EQUATOR_M_PER_PX = 156_543.03392804097  # 256-px tiles at zoom 0
_EDGE_M = [h3.average_hexagon_edge_length(res, unit="m") for res in range(16)]


class TileTooLarge(ServiceError):
    status_code = 413


def resolution_for_zoom(z: int) -> int:
    """The finest H3 resolution whose hexagon edge is at least MIN_EDGE_PX pixels at zoom ``z``."""
    metres_per_px = _EQUATOR_M_PER_PX / 2**z
    return max((res for res in range(16) if _EDGE_M[res] >= MIN_EDGE_PX * metres_per_px), default=0)


def zoom_for_resolution(resolution: int) -> int:
    """The lowest zoom at which cells of ``resolution`` are drawn as themselves."""
    return next(z for z in range(MAX_ZOOM + 1) if resolution_for_zoom(z) >= resolution)


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int


def parse_tile_address(z: str, x: str, y: str) -> TileAddress:
    """Validate z/x/y from the path; a clear 400 rather than a generic validation error."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError as exc:
        raise BadRequest(f"Tile address {z}/{x}/{y} is not valid: z, x and y must be whole numbers.") from exc
    if not 0 <= zi <= MAX_ZOOM:
        raise BadRequest(f"Zoom {zi} is out of range: z must be between 0 and {MAX_ZOOM}.")
    top = 2**zi - 1
    if not (0 <= xi <= top and 0 <= yi <= top):
        raise BadRequest(f"Tile {zi}/{xi}/{yi} does not exist: at zoom {zi}, x and y must be between 0 and {top}.")
    return TileAddress(zi, xi, yi)


@dataclass(frozen=True)
class Tile:
    """Tile bytes (empty for an empty tile), their ETag, and whether they may be cached for ever."""

    content: bytes
    etag: str
    immutable: bool = False


@dataclass(frozen=True)
class FinishedRun:
    """A completed run with what its tiles need: the resolution of its cells and their extent."""

    run: Run
    resolution: int
    bounds: tuple[float, float, float, float]

    @property
    def id(self) -> int:
        return self.run.id

    @property
    def kind(self) -> AnalysisKind:
        return self.run.kind

    @property
    def boundary_set_id(self) -> int:
        return self.run.boundary_set_id

    @property
    def audience(self) -> str:
        """The run's: 'police' or 'shared'."""
        return self.run.audience

    @property
    def synthetic(self) -> bool:
        """Counted SYNTHETIC (demo) incidents: said in its TileJSON."""
        return self.run.synthetic


# Seconds a shared run's facts are trusted from memory before the database is asked again.
SHARED_FACTS_TTL_S = 10.0


class TileCache:
    """Finished runs' tiles and run facts, in memory: an LRU bounded in bytes.

    A completed run never changes, so its tiles can skip the database on a
    repeat. Thread-safe: sync handlers run in a thread pool.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._tiles: OrderedDict[tuple, Tile] = OrderedDict()
        self._runs: dict[int, tuple[FinishedRun, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Tile | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: tuple, tile: Tile) -> None:
        size = len(tile.content) + 200  # key and object overhead, roughly
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self.bytes -= len(old.content) + 200
            self._tiles[key] = tile
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, evicted = self._tiles.popitem(last=False)
                self.bytes -= len(evicted.content) + 200

    def clear(self) -> None:
        """Forget everything (a shared run was withdrawn: its facts and tiles must be read again)."""
        with self._lock:
            self._tiles.clear()
            self._runs.clear()
            self.bytes = 0

    def run(self, run_id: int) -> FinishedRun | None:
        """The run's remembered facts; a shared run's only for ``SHARED_FACTS_TTL_S`` (it can be
        withdrawn from partners by another process: an admin's command, another replica)."""
        found = self._runs.get(run_id)
        if found is None:
            return None
        run, remembered_at = found
        if run.audience == "shared" and time.monotonic() - remembered_at > SHARED_FACTS_TTL_S:
            return None
        return run

    def remember_run(self, run: FinishedRun) -> None:
        with self._lock:
            if len(self._runs) > 1000:
                self._runs.clear()
            self._runs[run.id] = (run, time.monotonic())


def finished_run(session: Session, cache: TileCache, run_id: int | None, audience: Audience) -> FinishedRun:
    """A completed run's facts (cached), or a 400/404/409 saying why its tiles cannot be drawn.

    A run this audience may not see answers 404, whatever its state, as if it did not exist.
    """
    if run_id is None:
        raise BadRequest("The hotspots layer needs a run: add ?run=<analysis run id>.")
    known = cache.run(run_id)
    if known is None:
        known = _load_finished_run(session, cache, run_id, audience)
    if not audience.sees_run(known.run):
        raise NotFound(f"There is no analysis run {run_id}.")
    return known


def _load_finished_run(session: Session, cache: TileCache, run_id: int, audience: Audience) -> FinishedRun:
    run = visible_completed_run(session, run_id, audience, waiting="it has no cells to draw yet")
    resolution = tile_store.run_cell_resolution(session, run.id)
    bounds = tile_store.run_extent(session, run.id)
    if resolution is None or bounds is None:
        raise Conflict(f"Run {run_id} finished without cells; there is nothing to draw.")
    if resolution > 0:
        tile_store.ensure_cell_parents(session, run.id, resolution, run.kind)
    found = FinishedRun(run, resolution, bounds)
    cache.remember_run(found)
    return found


def hotspot_cache_key(run: FinishedRun, at: TileAddress, audience: Audience) -> tuple:
    return ("hotspots", run.id, audience.cache_key(), at.z, at.x, at.y)


def hotspot_tile(session: Session, cache: TileCache, run: FinishedRun, at: TileAddress, audience: Audience) -> Tile:
    """A finished run's tile as ``audience`` may see it, from memory when it has been drawn before."""
    key = hotspot_cache_key(run, at, audience)
    cached = cache.get(key)
    if cached is not None:
        return cached
    steps = hotspot_queries(run, at, audience)
    try:
        query = next(steps)
        while True:
            query = steps.send(_run_query(session, run, at, query))
    except StopIteration as done:
        content = done.value
    # Finished runs never change: the ETag is a name, so a 304 needs no drawing.
    tile = Tile(content, hotspot_etag(run.id, at, audience), immutable=audience.raw)
    cache.put(key, tile)
    return tile


@dataclass(frozen=True)
class HotspotQuery:
    """One query a hotspot tile needs: the run's own cells or their parents at ``resolution`` (the
    answer is ``(candidates, bytes)``), or the ids of a partner's communities (``kind="scope"``)."""

    kind: Literal["cells", "parents", "scope"]
    resolution: int = 0
    min_count: int = 0
    scope: list[int] | None = None
    names: list[str] | None = None


def _run_query(session: Session, run: FinishedRun, at: TileAddress, query: HotspotQuery) -> Any:
    if query.kind == "scope":
        return tile_store.community_ids_named(session, run.boundary_set_id, query.names or [])
    draw = tile_store.hotspot_cells_tile if query.kind == "cells" else tile_store.hotspot_parents_tile
    extra = {"scope": query.scope} if query.kind == "cells" else {}
    return draw(session, run.id, query.resolution, at.z, at.x, at.y, FEATURE_CAP + 1, min_count=query.min_count,
                kind=run.kind, **extra)


def hotspot_queries(run: FinishedRun, at: TileAddress, audience: Audience) -> Generator[HotspotQuery, Any, bytes]:
    """Which representation a hotspot tile gets, without I/O: yields each query, is sent its answer,
    returns the tile's bytes. The sync route and the async fast path (app/api/tile_fast_path.py)
    both drive it, so they draw the same tile."""
    if audience.communities is not None:
        return (yield from _scoped_hotspot_queries(run, at, audience))
    min_count = 0 if audience.raw else audience.min_count
    # The run's cells, or their parents at low zoom, coarser until the tile fits.
    for res in range(min(resolution_for_zoom(at.z), run.resolution), -1, -1):
        count, content = yield HotspotQuery("cells" if res == run.resolution else "parents", res, min_count)
        if _fits(count, content):
            return content
    raise TileTooLarge(f"Tile {at.z}/{at.x}/{at.y} is too dense to draw even as resolution-0 cells.")


def _scoped_hotspot_queries(run: FinishedRun, at: TileAddress,
                            audience: Audience) -> Generator[HotspotQuery, Any, bytes]:
    """A scoped partner's tile: the run's own cells of its communities only (parents would mix in others)."""
    scope = yield HotspotQuery("scope", names=sorted(audience.communities or ()))
    if not scope:
        return b""
    count, content = yield HotspotQuery("cells", run.resolution, audience.min_count, scope=list(scope))
    if not _fits(count, content):
        raise TileTooLarge(f"Tile {at.z}/{at.x}/{at.y} holds too many cells of your communities to draw at "
                           f"zoom {at.z}; zoom in (zoom {zoom_for_resolution(run.resolution)} draws every cell).")
    return content


def hotspot_etag(run_id: int, at: TileAddress, audience: Audience) -> str:
    return f'"h{run_id}-{at.z}-{at.x}-{at.y}-{TILE_FORMAT}-{audience.cache_key()}"'


def communities_tile(session: Session, at: TileAddress, audience: Audience) -> Tile:
    """The active boundary set (a partner: its communities) with counts as ``audience`` may see them.

    Simplified harder (1, 4, 16 px) until the tile fits.
    """
    degrees_per_px = 360 / (256 * 2**at.z)
    for factor in (1, 4, 16, 64):
        tolerance = degrees_per_px * factor
        if audience.raw:
            count, content = tile_store.communities_tile(session, at.z, at.x, at.y, FEATURE_CAP + 1, tolerance)
        else:
            count, content = tile_store.communities_tile_aggregated(
                session, at.z, at.x, at.y, FEATURE_CAP + 1, tolerance,
                names=None if audience.communities is None else sorted(audience.communities))
        if _fits(count, content):
            # Content-addressed, with the audience too: a 304 never confirms another audience's copy.
            return Tile(content, _content_etag(content, audience.cache_key()))
    raise TileTooLarge(f"The communities in tile {at.z}/{at.x}/{at.y} are too many to draw in one tile.")


def incidents_tile(session: Session, at: TileAddress, outside: bool = False) -> Tile:
    """Points from INCIDENT_POINTS_MIN_ZOOM when they fit; otherwise counts per H3 cell.

    ``outside``: only the incidents that lie in no community (where the analyses cannot see them).
    """
    if at.z >= INCIDENT_POINTS_MIN_ZOOM:
        count, content = tile_store.incident_points_tile(session, at.z, at.x, at.y, FEATURE_CAP + 1, outside=outside)
        if _fits(count, content):
            return Tile(content, _content_etag(content))
    for res in range(resolution_for_zoom(at.z), -1, -1):
        count, content = tile_store.incident_cells_tile(session, res, at.z, at.x, at.y, FEATURE_CAP + 1,
                                                        outside=outside)
        if _fits(count, content):
            return Tile(content, _content_etag(content))
    raise TileTooLarge(f"Tile {at.z}/{at.x}/{at.y} is too dense to draw even as resolution-0 counts.")


def _fits(count: int, content: bytes) -> bool:
    return count <= FEATURE_CAP and len(content) <= MAX_TILE_BYTES


def _content_etag(content: bytes, salt: str = "") -> str:
    digest = hashlib.blake2b(salt.encode("utf-8") + b"\0" + content, digest_size=12)
    return '"' + digest.hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list (or *) with our ETag."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
