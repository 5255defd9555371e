"""Vector tiles encoded in Python (spatial/mvt.py): decoded and checked, and compared with PostGIS's ST_AsMVT.

The tile is z14 over Basseterre, St Kitts; features are H3 resolution-9
hexagons (edge ~174 m, ~70 px here) placed inside, across the east edge and
outside the tile, a community with a hole, and points. The PostGIS comparison
runs the store's query shape on a throwaway database and is skipped only when
no PostGIS server can be reached.
"""

from __future__ import annotations

import math
import os

import h3
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, shape

from spatial.mvt import BUFFER, EXTENT, MAX_LATITUDE, encode_layer, tile_bounds_lonlat

Z = 14
LON, LAT = -62.7245, 17.2977  # Basseterre


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


X, Y = tile_of(LON, LAT, Z)
WEST, SOUTH, EAST, NORTH = tile_bounds_lonlat(Z, X, Y, margin=0)
MID_LAT, MID_LON = (SOUTH + NORTH) / 2, (WEST + EAST) / 2


def hexagon(lat: float, lon: float, resolution: int = 9) -> Polygon:
    return Polygon([(lng, la) for la, lng in h3.cell_to_boundary(h3.latlng_to_cell(lat, lon, resolution))])


def decode(tile: bytes) -> dict:
    return mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})


def by_name(tile: bytes, layer: str = "hotspots") -> dict[str, dict]:
    return {f["properties"]["name"]: f for f in decode(tile)[layer]["features"]}


def pixel(lon: float, lat: float) -> tuple[float, float]:
    """Tile pixel of a lon/lat through pyproj, independently of the module's own projection."""
    mx, my = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    (w, n), (e, s) = (Transformer.from_crs(4326, 3857, always_xy=True).transform(*c)
                      for c in ((WEST, NORTH), (EAST, SOUTH)))
    return (mx - w) / (e - w) * EXTENT, (n - my) / (n - s) * EXTENT


INSIDE = hexagon(MID_LAT, MID_LON)
ACROSS_EAST = hexagon(MID_LAT + 0.002, EAST)
OUTSIDE = hexagon(MID_LAT, EAST + 0.05)
COMMUNITY = Polygon(  # a community with a hole (a park), its west part outside the tile
    [(WEST - 0.01, SOUTH + 0.001), (MID_LON, SOUTH + 0.001), (MID_LON, SOUTH + 0.006), (WEST - 0.01, SOUTH + 0.006)],
    [[(WEST + 0.002, SOUTH + 0.002), (WEST + 0.004, SOUTH + 0.002), (WEST + 0.004, SOUTH + 0.004),
      (WEST + 0.002, SOUTH + 0.004)]],
)
TWO_ISLANDS = MultiPolygon([box(MID_LON + 0.002, NORTH - 0.004, MID_LON + 0.004, NORTH - 0.002),
                            box(EAST - 0.001, NORTH - 0.004, EAST + 0.003, NORTH + 0.001)])
FEATURES = [
    (INSIDE, {"name": "inside", "incidents": 12, "gi_bin": -2, "gi_z": -2.1, "suppressed": None}),
    (ACROSS_EAST, {"name": "across_east", "incidents": 0, "gi_bin": 0, "gi_z": 0.0, "suppressed": True}),
    (OUTSIDE, {"name": "outside", "incidents": 5}),
    (COMMUNITY, {"name": "community", "incidents": None}),
    (TWO_ISLANDS, {"name": "two_islands", "incidents": 3}),
    (Point(MID_LON + 0.001, MID_LAT - 0.001), {"name": "point", "incidents": 7}),
    (Point(EAST + 0.05, MID_LAT), {"name": "point_outside", "incidents": 1}),
]
SHOWN = {"inside", "across_east", "community", "two_islands", "point"}


def signed_area(ring: list) -> float:
    """Surveyor's formula in tile coordinates (y down): positive for an MVT exterior ring."""
    xy = np.asarray(ring, dtype=float)
    return float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]) / 2)


# --- the search box ------------------------------------------------------------------------

def test_tile_bounds_world_at_zoom_0():
    assert tile_bounds_lonlat(0, 0, 0, margin=0) == pytest.approx((-180, -MAX_LATITUDE, 180, MAX_LATITUDE))
    assert MAX_LATITUDE == pytest.approx(85.0511287798066)


def test_tile_bounds_default_margin_is_the_buffer():
    west, south, east, north = tile_bounds_lonlat(Z, X, Y)
    assert west < WEST and east > EAST and south < SOUTH and north > NORTH
    assert (east - west) == pytest.approx((EAST - WEST) * (1 + 2 * BUFFER / EXTENT))
    assert WEST < LON < EAST and SOUTH < LAT < NORTH


def test_tile_bounds_clamped_at_the_world_edge():
    west, south, east, north = tile_bounds_lonlat(1, 0, 0, margin=0.5)
    assert west == -180 and north == pytest.approx(MAX_LATITUDE)
    assert east == pytest.approx(90) and south < 0


# --- encoding ------------------------------------------------------------------------------

def test_features_kept_and_dropped_and_null_properties_left_out():
    features = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))
    assert set(features) == SHOWN
    assert features["inside"]["properties"] == {"name": "inside", "incidents": 12, "gi_bin": -2, "gi_z": -2.1}
    assert features["community"]["properties"] == {"name": "community"}
    assert features["across_east"]["properties"]["suppressed"] is True
    assert features["point"]["geometry"]["type"] == "Point"
    assert "id" not in features["inside"] or features["inside"]["id"] in (None, 0)
    drawn = [f["properties"]["name"] for f in decode(encode_layer("hotspots", FEATURES, Z, X, Y))["hotspots"]["features"]]
    assert drawn == [p["name"] for _, p in FEATURES if p["name"] in SHOWN]  # input order is drawing order


def test_inside_hexagon_vertices_match_pyproj():
    ring = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))["inside"]["geometry"]["coordinates"][0]
    expected = [pixel(lon, lat) for lon, lat in INSIDE.exterior.coords]
    assert len(ring) == len(expected) == 7
    # Same vertices up to one pixel of rounding; the ring may start elsewhere or run the other way.
    for vx, vy in ring:
        assert min(math.hypot(vx - ex, vy - ey) for ex, ey in expected) <= 1


def test_hexagon_across_the_edge_is_clipped_to_the_buffer():
    geometry = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))["across_east"]["geometry"]
    xs = [vx for vx, _ in geometry["coordinates"][0]]
    assert max(xs) == EXTENT + BUFFER
    assert min(xs) < EXTENT
    whole = shapely.transform(ACROSS_EAST, lambda c: np.array([pixel(*p) for p in c]))
    clipped = whole.intersection(box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER))
    assert shape(geometry).area == pytest.approx(clipped.area, rel=0.01)


def test_rings_are_wound_as_mvt_wants_and_holes_kept():
    features = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))
    exterior, hole = features["community"]["geometry"]["coordinates"]
    assert signed_area(exterior) > 0 > signed_area(hole)
    assert min(vx for vx, _ in exterior) == -BUFFER
    islands = features["two_islands"]["geometry"]
    assert islands["type"] == "MultiPolygon" and len(islands["coordinates"]) == 2
    assert all(signed_area(polygon[0]) > 0 for polygon in islands["coordinates"])


def test_point_in_pixels():
    features = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))
    ex, ey = pixel(MID_LON + 0.001, MID_LAT - 0.001)
    px, py = features["point"]["geometry"]["coordinates"]
    assert abs(px - ex) <= 0.5 and abs(py - ey) <= 0.5


def test_point_on_the_buffer_edge_is_kept():
    lon_per_px = (EAST - WEST) / EXTENT
    edge = Point(WEST - BUFFER * lon_per_px, MID_LAT)
    tile = encode_layer("incidents", [(edge, {"name": "edge"})], Z, X, Y)
    assert decode(tile)["incidents"]["features"][0]["geometry"]["coordinates"][0] == -BUFFER


def test_nothing_to_draw_is_empty_bytes():
    assert encode_layer("hotspots", [], Z, X, Y) == b""
    assert encode_layer("hotspots", [f for f in FEATURES if f[1]["name"].endswith("outside")], Z, X, Y) == b""
    # A resolution-9 hexagon at zoom 3 is a fifth of a pixel wide: it collapses, as in ST_AsMVTGeom.
    tiny = hexagon(MID_LAT, MID_LON)
    assert encode_layer("hotspots", [(tiny, {"name": "tiny"})], 3, *tile_of(MID_LON, MID_LAT, 3)) == b""


def test_value_types_are_kept_apart():
    properties = {"name": "t", "zero_int": 0, "zero_float": 0.0, "false": False, "big": np.int64(2**40),
                  "ratio": np.float32(0.5), "negative": -3}
    tile = encode_layer("hotspots", [(INSIDE, properties)], Z, X, Y)
    decoded = decode(tile)["hotspots"]["features"][0]["properties"]
    assert decoded == {"name": "t", "zero_int": 0, "zero_float": 0.0, "false": False, "big": 2**40,
                       "ratio": 0.5, "negative": -3}
    assert type(decoded["zero_float"]) is float and type(decoded["zero_int"]) is int
    assert decoded["false"] is False


def test_unsupported_property_type_is_refused():
    with pytest.raises(TypeError, match="when"):
        encode_layer("hotspots", [(INSIDE, {"when": object()})], Z, X, Y)


def test_unsupported_geometry_type_is_refused():
    with pytest.raises(TypeError, match="LineString"):
        encode_layer("hotspots", [(LineString(INSIDE.exterior.coords), {"name": "line"})], Z, X, Y)


def test_simplify_by_a_pixel_keeps_the_shape_with_fewer_vertices():
    circle = Point(MID_LON, MID_LAT).buffer(0.005, quad_segs=256)
    plain = decode(encode_layer("communities", [(circle, {"id": 1})], Z, X, Y))
    simple = decode(encode_layer("communities", [(circle, {"id": 1})], Z, X, Y, simplify_pixels=1.0))
    ring, simple_ring = (t["communities"]["features"][0]["geometry"]["coordinates"][0] for t in (plain, simple))
    assert len(simple_ring) < len(ring) / 2
    assert shape({"type": "Polygon", "coordinates": [simple_ring]}).area == pytest.approx(
        shape({"type": "Polygon", "coordinates": [ring]}).area, rel=0.01)


# --- the same tile from PostGIS --------------------------------------------------------------

@pytest.fixture(scope="module")
def postgis():
    """A psycopg connection to a throwaway PostGIS database, dropped afterwards; skip without a server."""
    psycopg = pytest.importorskip("psycopg")
    admin = os.environ.get("HOTSPOTS_MVT_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"hotspots_mvt_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server for the ST_AsMVT comparison: {error}")
    try:
        with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.errors.FeatureNotSupported as error:
                pytest.skip(f"PostGIS is not installed on the server: {error}")
            yield conn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgis_tile(conn, features, z: int, x: int, y: int) -> bytes:
    """The store's query shape (app/store/tiles.py): bbox search in 4326, ST_AsMVTGeom with clip, ST_AsMVT."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS f (name text, incidents int, gi_bin int, gi_z float8, "
                 "suppressed boolean, geom geometry(Geometry, 4326))")
    conn.execute("TRUNCATE f")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO f VALUES (%s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
            [(p["name"], p.get("incidents"), p.get("gi_bin"), p.get("gi_z"), p.get("suppressed"), g.wkt)
             for g, p in features])
    row = conn.execute(
        "WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile, "
        "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(m)s), 4326) AS search), "
        "features AS (SELECT name, incidents, gi_bin, gi_z, suppressed, "
        f"ST_AsMVTGeom(ST_Transform(geom, 3857), b.tile, {EXTENT}, {BUFFER}, true) AS geom "
        "FROM f CROSS JOIN bounds b WHERE f.geom && b.search) "
        f"SELECT ST_AsMVT(t, 'hotspots', {EXTENT}, 'geom') FROM features t WHERE geom IS NOT NULL",
        {"z": z, "x": x, "y": y, "m": BUFFER / EXTENT}).fetchone()
    return bytes(row[0] or b"")


def test_tile_bounds_match_st_tileenvelope(postgis):
    for z, x, y in ((Z, X, Y), (9, 163, 231), (3, 2, 3)):
        row = postgis.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326) AS e) s",
            (z, x, y, BUFFER / EXTENT)).fetchone()
        assert tile_bounds_lonlat(z, x, y) == pytest.approx(row, abs=1e-9)


def test_same_tile_as_st_asmvt(postgis):
    ours = by_name(encode_layer("hotspots", FEATURES, Z, X, Y))
    theirs = by_name(postgis_tile(postgis, FEATURES, Z, X, Y))
    assert set(ours) == set(theirs) == SHOWN
    for name, feature in theirs.items():
        assert ours[name]["properties"] == feature["properties"], name
        mine, reference = shape(ours[name]["geometry"]), shape(feature["geometry"])
        assert mine.geom_type == reference.geom_type, name
        if reference.geom_type == "Point":
            assert mine.distance(reference) <= 1, name
        else:
            assert mine.area == pytest.approx(reference.area, rel=0.01), name
            assert mine.hausdorff_distance(reference) <= 2, name
            assert len(shapely.get_rings(mine)) == len(shapely.get_rings(reference)), name


def test_many_hexagons_same_as_st_asmvt(postgis):
    """~550 hexagons covering the tile and beyond: the same ones drawn, in the same places.

    Where a hexagon is cut by the buffer edge the two differ a little by
    design: PostGIS snaps vertices to the pixel grid and then clips, we clip and
    then snap, so our cut lands where the true edge crosses (checked against
    the exact clip, up to rounding) and PostGIS's up to ~2 px away; on a thin
    sliver either can be more than 1 % of its area.
    """
    cells = h3.grid_disk(h3.latlng_to_cell(MID_LAT, MID_LON, 9), 13)
    features = [(hexagon(*h3.cell_to_latlng(c)), {"name": c, "incidents": i % 5 or None})
                for i, c in enumerate(cells)]
    ours = by_name(encode_layer("hotspots", features, Z, X, Y))
    theirs = by_name(postgis_tile(postgis, features, Z, X, Y))
    assert 0 < len(theirs) < len(features)
    assert set(ours) == set(theirs)
    whole_pixels = dict(zip([p["name"] for _, p in features],
                            shapely.transform([g for g, _ in features], lambda c: np.array([pixel(*p) for p in c]))))
    buffered = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    cut = 0
    for name, feature in theirs.items():
        assert ours[name]["properties"] == feature["properties"]
        mine, reference = shape(ours[name]["geometry"]), shape(feature["geometry"])
        exact = whole_pixels[name].intersection(buffered)
        if exact.equals_exact(whole_pixels[name], 0):
            assert mine.area == pytest.approx(reference.area, rel=0.01)
            assert mine.hausdorff_distance(reference) <= 1
        else:
            cut += 1
            assert mine.hausdorff_distance(reference) <= 2
            # Ours is the exact cut rounded to whole pixels: each vertex within half a pixel of it.
            assert mine.hausdorff_distance(exact) <= math.sqrt(0.5)
            assert abs(mine.area - exact.area) <= 0.5 * exact.length
    assert cut > 10
