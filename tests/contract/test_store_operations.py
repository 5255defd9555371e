"""The store operations the services reach only on some paths, each run directly on both backends:
boundary sets by id, accounts by id, the audit stream, the restricted role, disclosure rules and terms,
extents and aggregate tiles, the import listing, the run queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import mapbox_vector_tile
import shapely
from sqlalchemy import text

from app.security import hash_token
from app.services.incident_import import import_incidents
from spatial.boundaries.models import Community
from spatial.incidents_io import ReadOptions
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import BASSETERRE, load_incidents, load_parishes, run, tile_of, write_rows

BASSETERRE_NAME = "Saint George Basseterre"


def _import(store: StoreUnderTest, path) -> None:
    import_incidents(store, path, filename=path.name, source=path.stem, options=ReadOptions(timezone=store.settings.zone))


def test_boundary_sets_and_communities_by_id(store: StoreUnderTest, tmp_path):
    assert store.boundaries.incidents_in_no_community() is None  # no active set yet
    set_id = load_parishes(store)
    assert store.boundaries.boundary_set_exists(set_id) and not store.boundaries.boundary_set_exists(set_id + 1000)
    found = store.boundaries.get_boundary_set(set_id)
    assert found["communities"] == 14 and found["is_active"] and store.boundaries.get_boundary_set(set_id + 1000) is None
    [basseterre] = store.boundaries.community_ids_named(set_id, [BASSETERRE_NAME, "nowhere"])
    shape = store.boundaries.get_community_shape(basseterre)
    assert shape["name"] == BASSETERRE_NAME and "incidents" not in shape
    assert shapely.from_geojson(shape["geometry"]).contains(shapely.Point(*BASSETERRE))
    assert store.boundaries.incidents_in_no_community() == 0
    _import(store, write_rows(tmp_path, "sea.csv", [(f"s{i}", "2024-03-01 10:00", "Theft", 17.25, -62.95, "")
                                                    for i in range(2)]))
    assert store.boundaries.incidents_in_no_community() == 2

    square = shapely.MultiPolygon([shapely.box(-62.80, 17.20, -62.70, 17.30)])
    extra = store.session.execute(text("INSERT INTO boundary_sets (name) VALUES ('extra') RETURNING id")).scalar_one()
    store.boundaries.insert_communities(extra, [Community(1, "Square", "SQ", 10.0, square, 1.2)])
    [square_id] = store.boundaries.community_ids_named(extra, ["Square"])
    stored = shapely.from_geojson(store.boundaries.get_community_shape(square_id)["geometry"])
    assert stored.geom_type == "MultiPolygon" and abs(stored.area - square.area) < 1e-9


def test_accounts_by_id_and_token_use(store: StoreUnderTest):
    user = store.accounts.create_user("contract-viewer", "viewer")
    assert store.accounts.find_user("contract-viewer").id == user.id
    assert store.accounts.user_exists(user.id) and not store.accounts.user_exists(user.id + 1000)
    token_id = store.accounts.add_token(user.id, hash_token("hs_contract"), label="contract")
    principal = store.accounts.principal_for_token_id(token_id)
    assert (principal.name, principal.role, principal.token_id) == ("contract-viewer", "viewer", token_id)
    assert store.accounts.principal_for_token_id(token_id + 1000) is None
    store.accounts.touch_token(token_id)
    [listed] = [u for u in store.accounts.list_users() if u["name"] == "contract-viewer"]
    assert listed["active_tokens"] == 1 and listed["last_used_at"].tzinfo is not None


def test_the_audit_log_streams_in_order(store: StoreUnderTest):
    for n in range(3):
        store.audit.append(action="test.stream", outcome="ok", user_id=None, user_name="someone", role=None,
                           target=str(n), client_ip=None, details={"n": n})
    streamed = list(store.audit.stream(action="test.stream"))
    assert [e["target"] for e in streamed] == ["0", "1", "2"] and [e["details"]["n"] for e in streamed] == [0, 1, 2]
    assert list(store.audit.stream(action="test.stream", user="nobody")) == []


def test_the_session_can_be_restricted_and_given_back(store: StoreUnderTest):
    def role() -> str:
        return store.session.execute(text("SELECT current_user")).scalar_one() if store.name == "postgis" else ""

    owner = role()
    store.database.restrict()
    assert store.session.info["restricted"] is True
    if store.name == "postgis":  # the embedded store has no roles: the service's own checks are the wall
        assert role() == "hotspots_restricted"
    store.session.rollback()
    store.database.unrestrict()
    store.session.info.pop("restricted")
    assert role() == owner


def test_disclosure_rules_terms_and_classes(store: StoreUnderTest, tmp_path):
    assert store.disclosure.set_rules(min_count=7, hold_back_days=3, zone="UTC")
    assert store.disclosure.rules() == {"min_count": 7, "hold_back_days": 3, "zone": "UTC"}
    assert not store.disclosure.set_rules(min_count=7, hold_back_days=3, zone="UTC")  # unchanged
    assert store.disclosure.add_term("contraband", None) and not store.disclosure.add_term("contraband", None)
    assert "contraband" in {t["term"] for t in store.disclosure.admin_terms()}
    assert store.disclosure.remove_term("contraband") and not store.disclosure.remove_term("contraband")

    load_parishes(store)
    lat, lon = BASSETERRE[1], BASSETERRE[0]
    _import(store, write_rows(tmp_path, "mixed.csv", [(f"m{i}", "2024-03-01 10:00", "Domestic violence" if i % 2 else "Theft",
                                                       lat, lon, "") for i in range(10)]))
    assert {"Theft", "Domestic violence"} <= set(store.disclosure.incident_category_names())
    classes = {c["name"]: c["sensitive"] for c in store.disclosure.categories()}
    assert classes["Domestic violence"] is True and classes["Theft"] is False

    run_id = run(store, resolution=8, permutations=0, seed=3, audience="shared")
    cells, counts = store.disclosure.stored_cell_counts(run_id)
    assert list(cells) == sorted(cells) and counts.sum() == 5  # shared runs leave sensitive categories out
    assert store.disclosure.withdraw_shared_runs() == [run_id]
    assert store.runs.get_run(run_id).audience == "police" and store.disclosure.withdraw_shared_runs() == []


def test_extents_resolution_and_aggregate_community_tiles(store: StoreUnderTest, tmp_path):
    load_parishes(store)
    load_incidents(store, tmp_path, n=600)
    run_id = run(store, resolution=9, permutations=0, seed=5)
    assert store.tiles.run_cell_resolution(run_id) == 9 and store.tiles.run_cell_resolution(run_id + 1000) is None

    def holds_basseterre(extent) -> bool:
        west, south, east, north = extent
        return west < BASSETERRE[0] < east and south < BASSETERRE[1] < north

    every, one = store.tiles.active_communities_extent(), store.tiles.active_communities_extent([BASSETERRE_NAME])
    assert holds_basseterre(every) and holds_basseterre(one) and every[2] - every[0] > one[2] - one[0]
    assert store.tiles.active_communities_extent(["nowhere"]) is None
    assert holds_basseterre(store.tiles.incidents_extent())

    k = store.disclosure.rules()["min_count"]
    x, y = tile_of(*BASSETERRE, 9)
    _, everyone = store.tiles.communities_tile_aggregated(9, x, y, 100, 0.0005, names=None)
    _, scoped = store.tiles.communities_tile_aggregated(9, x, y, 100, 0.0005, names=[BASSETERRE_NAME])
    features = mapbox_vector_tile.decode(everyone)["communities"]["features"]
    assert BASSETERRE_NAME in {f["properties"]["name"] for f in features} and len(features) > 1
    assert {f["properties"]["name"] for f in mapbox_vector_tile.decode(scoped)["communities"]["features"]} == {BASSETERRE_NAME}
    for feature in features:
        shown = feature["properties"].get("incidents")
        assert (shown is None and feature["properties"]["suppressed"]) or shown >= k


def test_imports_are_listed_newest_first(store: StoreUnderTest, tmp_path):
    load_parishes(store)
    for name in ("first", "second"):
        _import(store, write_rows(tmp_path, f"{name}.csv", [(f"{name}{i}", "2024-03-01 10:00", "Theft", 17.2955, -62.7261, "")
                                                            for i in range(2)]))
    newest, older = store.imports.list_imports(limit=2)
    assert (newest.source, older.source) == ("second", "first") and newest.id > older.id
    assert [i.id for i in store.imports.list_imports(limit=5, after_id=newest.id)][:1] == [older.id]


def test_the_run_queue_beats_and_finds_untaken_runs(store: StoreUnderTest):
    set_id = load_parishes(store)
    run_id = store.runs.create_run(parameters={"resolution": 9, "communities": []}, seed=1, boundary_set_id=set_id,
                                   user_id=None)
    now = datetime.now(UTC)
    assert run_id in store.runs.stale_queued_run_ids(now + timedelta(minutes=1))
    assert run_id not in store.runs.stale_queued_run_ids(now - timedelta(hours=1))
    assert store.runs.claim_run(run_id, "contract:1") and not store.runs.claim_run(run_id, "contract:2")
    store.session.execute(text("UPDATE hotspot_runs SET heartbeat_at = NULL WHERE id = :id"), {"id": run_id})
    store.runs.beat(run_id)
    [running] = [r for r in store.runs.running_runs() if r["id"] == run_id]
    assert running["worker"] == "contract:1" and running["heartbeat_at"] is not None
    assert run_id not in store.runs.stale_queued_run_ids(now + timedelta(minutes=1))  # taken
