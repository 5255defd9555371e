"""Interventions on both stores: recorded, refused in words, scoped, deleted; and evaluated on a
seeded synthetic history with the three checks of issue 16.

History (numpy seed 16, made up): three target areas on St Kitts, each a disk of H3 cells (resolution
9, two rings) with its one-ring buffer, and a comparison area of cells of four Nevis parishes. Per
90-day window: 600 incidents in each target, 300 in each buffer, 2,000 in the comparison area
(Poisson), seven windows, the last one the programme's (2024-07-01 to 2024-09-28). In the last window:
target A falls 30 %; target B does not change; target C falls 30 % and the incidents it lost appear in
its buffer. A fourth target (D) has 3 incidents a window, too few for anything.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import h3
import numpy as np
import pytest
from shapely import wkb

from app.errors import BadRequest, NotFound
from app.privacy import Audience
from app.services import intervention_evaluation, interventions
from app.services.incident_import import import_incidents
from spatial.incidents_io import ReadOptions
from spatial.outcomes.areas import buffer_ring, cells_outline, polygon_cells
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import load_parishes, write_rows

POLICE = Audience(role="analyst", raw=True, min_count=5, max_resolution=8, hold_back_days=0, communities=None)
PARTNER = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0, communities=None)
COMPARISON = ["Saint Paul Charlestown", "Saint George Gingerland", "Saint James Windward", "Saint John Figtree"]
CENTRES = {"A": (17.30, -62.73), "B": (17.35, -62.74), "C": (17.33, -62.80), "D": (17.31, -62.76)}
START, END = date(2024, 7, 1), date(2024, 9, 28)  # 90 days
WINDOWS = 7
RATES = {"A": (600, 300), "B": (600, 300), "C": (600, 300), "D": (3, 2)}  # target, buffer per window

def _disk(name: str) -> np.ndarray:
    lat, lon = CENTRES[name]
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(lat, lon, 9), 2)), dtype=np.int64)

def _points(rng, cells: np.ndarray, n: int) -> list[tuple[float, float]]:
    chosen = rng.choice(cells, size=n)
    return [h3.cell_to_latlng(h3.int_to_str(int(c))) for c in chosen]

@pytest.fixture
def history(store: StoreUnderTest, tmp_path) -> dict[str, int]:
    """The seeded history loaded; returns the comparison communities' ids by name."""
    set_id = load_parishes(store)
    shapes = {s["name"]: s for s in store.boundaries.community_shapes(set_id, COMPARISON)}
    comparison_cells = np.concatenate([polygon_cells(wkb.loads(s["wkb"]), 9) for s in shapes.values()])
    rng = np.random.default_rng(16)
    zone = store.settings.zone
    length = (END - START).days + 1
    rows = []
    for window in range(-WINDOWS + 1, 1):
        first = datetime.combine(START, time(12), zone) + timedelta(days=window * length)
        expected: list[tuple[str, np.ndarray, float]] = [("cmp", comparison_cells, 2000)]
        for name, (target_rate, buffer_rate) in RATES.items():
            target = _disk(name)
            after = window == 0 and name in "AC"
            expected.append((f"{name}t", target, target_rate * (0.7 if after else 1)))
            expected.append((f"{name}b", buffer_ring(target, 1),
                             buffer_rate + (0.3 * target_rate if after and name == "C" else 0)))
        for label, cells, rate in expected:
            for i, (lat, lon) in enumerate(_points(rng, cells, rng.poisson(rate))):
                moment = first + timedelta(days=int(rng.integers(0, length)))
                rows.append((f"{label}{window}-{i}", moment.strftime("%Y-%m-%d %H:%M"), "Theft", f"{lat:.7f}",
                             f"{lon:.7f}", ""))
    path = write_rows(tmp_path, f"{store.name}-interventions.csv", rows)
    import_incidents(store, path, filename=path.name, source="SYN", options=ReadOptions(timezone=zone))
    return {name: s["id"] for name, s in shapes.items()}

def _record(store: StoreUnderTest, history: dict[str, int], name: str, **more) -> int:
    new = interventions.NewIntervention(
        name=f"Programme {name}", partner="Test partner", starts_on=START, ends_on=END,
        target_geometry=cells_outline(_disk(name)), comparison_communities=tuple(history.values()),
        **more)
    return interventions.create_intervention(store, new, user_id=None)["id"]

def _evaluate(store: StoreUnderTest, intervention_id: int, audience: Audience = POLICE) -> dict:
    return intervention_evaluation.evaluate(store, intervention_id, audience, store.settings,
                                            now=datetime(2025, 1, 1, tzinfo=store.settings.zone))

def test_planted_fall_found_no_change_not_found_displacement_reported(store: StoreUnderTest, history):
    fall = _evaluate(store, _record(store, history, "A"))
    assert fall["status"] == "evaluated" and len(fall["earlier_windows"]) == 4
    assert fall["counts"]["target"]["before"] > 500 and fall["counts"]["comparison"]["after"] > 1800
    change = fall["target_change"]
    assert change["found"] and change["interval"][0] < 0.7 < change["interval"][1] and change["interval"][1] < 1
    assert "fell" in fall["sentence"] and "No clear sign of displacement" in fall["sentence"]

    none = _evaluate(store, _record(store, history, "B"))
    assert not none["target_change"]["found"] and none["target_change"]["interval"][0] < 1 < none["target_change"]["interval"][1]
    assert "no effect is claimed" in none["sentence"]

    moved = _evaluate(store, _record(store, history, "C"))

    assert moved["target_change"]["found"]
    assert moved["buffer_change"]["found"] and moved["buffer_change"]["ratio"] > 1
    assert moved["displacement"]["quotient"] < 0 and "displacement" in moved["displacement"]["reading"]
    assert "a sign of displacement" in moved["sentence"]

def test_partners_see_the_kept_published_copy_and_small_counts_hidden(store: StoreUnderTest, history):
    shared = _record(store, history, "A", shared=True)
    with pytest.raises(Exception, match="not been evaluated yet"):
        _evaluate(store, shared, PARTNER)
    police = police_shared = _evaluate(store, shared)
    published = _evaluate(store, shared, PARTNER)
    assert published["counts"] == police["counts"] and published["target_change"]["found"] == police["target_change"]["found"]
    # the published figures are rounded to 4 decimals (the police ones are kept whole); the words are the same
    assert published["target_change"]["ratio"] == round(police["target_change"]["ratio"], 4)
    assert published["target_change"]["interval"] == [round(v, 4) for v in police["target_change"]["interval"]]
    assert published["sentence"] == police["sentence"]
    assert not published["suppressed"]

    small = _record(store, history, "D", shared=True)
    police = _evaluate(store, small)
    assert not police["target_change"]["found"] and "No effect can be claimed" in police["sentence"]
    published = _evaluate(store, small, PARTNER)
    assert published["suppressed"] and published["counts"]["target"]["before"] is None
    assert published["target_change"] is None and published["displacement"] is None
    assert "No effect can be published or claimed" in published["sentence"]
    assert str(police["counts"]["target"]["before"]) not in published["sentence"]

    private = _record(store, history, "B")
    with pytest.raises(NotFound):
        _evaluate(store, private, PARTNER)
    scoped = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0,
                      communities=frozenset({"Saint Anne Sandy Point"}))
    assert [i["id"] for i in interventions.list_interventions(store, PARTNER)] == [small, shared]
    assert interventions.list_interventions(store, scoped) == []
    with pytest.raises(NotFound):
        interventions.get_intervention(store, shared, scoped)
    # a partner limited to the target's community sees its counts, not those of places outside it
    own = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0,
                   communities=frozenset(interventions.get_intervention(store, shared, PARTNER)["communities"]))
    mine = _evaluate(store, shared, own)
    assert mine["counts"]["target"] == police_shared["counts"]["target"]
    assert mine["counts"]["comparison"] is None and mine["counts"]["buffer"] is None and mine["counts_withheld"]
    # with two counts withheld, only the change in whole percents: a ratio and interval would give them away
    assert mine["target_change"]["ratio"] is None and mine["target_change"]["interval"] is None
    assert mine["target_change"]["change_percent"] == round(police_shared["target_change"]["change_percent"])

def _island_polygon(store: StoreUnderTest, community_id: int) -> dict:
    """A rectangle a little larger than one community's bounds (lon/lat)."""
    shape = next(wkb.loads(c["wkb"]) for c in store.boundaries.community_shapes(
        store.boundaries.active_boundary_set_id(), None) if c["id"] == community_id)
    west, south, east, north = shape.buffer(0.001).bounds
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def test_bad_interventions_are_refused_in_words(store: StoreUnderTest):
    load_parishes(store)
    ids = [c["id"] for c in store.boundaries.list_active_communities()]
    cases = {
        "not a community": dict(target_communities=(max(ids) + 1000,)),
        "before the start date": dict(target_communities=(ids[0],), ends_on=date(2024, 6, 1)),
        "not valid": dict(target_geometry={"type": "Polygon", "coordinates": [
            [[-62.73, 17.29], [-62.70, 17.31], [-62.70, 17.29], [-62.73, 17.31], [-62.73, 17.29]]]}),
        "outside every community": dict(target_geometry={"type": "Polygon", "coordinates": [
            [[-61.0, 16.0], [-60.9, 16.0], [-60.9, 16.1], [-61.0, 16.0]]]}),
        "not both": dict(target_communities=(ids[0],), target_geometry={"type": "Point", "coordinates": [0, 0]}),
        "in both the target and the comparison": dict(target_communities=(ids[0],), comparison_communities=(ids[0],)),
        # the earlier windows of a programme in year 1 would start before year 1 (an OverflowError on evaluation)
        "Dates must be between 1900-01-01 and 2100-12-31": dict(target_communities=(ids[0],),
                                                                starts_on=date(1, 1, 1), ends_on=date(1, 3, 1)),
        "at most 3,653": dict(target_communities=(ids[0],), starts_on=date(1990, 1, 1), ends_on=date(2024, 1, 1)),
        "nothing is left to compare it with": dict(target_communities=tuple(ids)),
        "wholly inside the target polygon": dict(target_geometry=_island_polygon(store, ids[1]),
                                                 comparison_communities=(ids[1], ids[2])),
    }
    for words, fields in cases.items():
        new = interventions.NewIntervention(**{"name": "x", "starts_on": START, "ends_on": END, **fields})
        with pytest.raises(BadRequest, match=words):
            interventions.create_intervention(store, new, user_id=None)
    assert store.interventions.list_interventions() == []

def test_recorded_listed_by_community_and_deleted(store: StoreUnderTest):
    load_parishes(store)
    community = store.boundaries.list_active_communities()[0]
    new = interventions.NewIntervention(name="Patrols", starts_on=START, ends_on=END,
                                        target_communities=(community["id"],))
    shown = interventions.create_intervention(store, new, user_id=None)
    assert shown["communities"] == [community["name"]] and shown["target"] == {"communities": [community["id"]]}
    assert shown["comparison"]["communities"] == "the rest of the active communities"
    assert [i["id"] for i in interventions.list_interventions(store, POLICE, community["name"])] == [shown["id"]]
    assert interventions.list_interventions(store, POLICE, "no such place") == []
    not_over = intervention_evaluation.evaluate(store, shown["id"], POLICE, store.settings,
                                                now=datetime(2024, 8, 1, tzinfo=store.settings.zone))
    assert not_over["status"] == "not over" and "once it has ended" in not_over["sentence"]
    interventions.delete_intervention(store, shown["id"])
    with pytest.raises(NotFound):
        interventions.get_intervention(store, shown["id"], POLICE)
