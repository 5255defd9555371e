"""The change classes of two hot-spot maps (spatial/compare.py): pure, on hand-made cells."""

from __future__ import annotations

import h3
import pytest

from spatial.compare import (BECAME_HOT, STAYED_HOT, STOPPED_HOT, ResolutionMismatch, compare_hot_cells,
                             hexagons_feature_collection, strongest_per_cell)

CELLS = [h3.int_to_str(c) for c in sorted(h3.str_to_int(x) for x in h3.grid_disk(
    h3.latlng_to_cell(17.2955, -62.7261, 9), 1))]  # seven neighbouring resolution 9 cells


def test_each_cell_is_classed_by_gi_bin_two_or_more_in_each_map():
    a, b, c, d, e, f, g = CELLS
    first = {a: 3, b: 2, c: 1, d: 3, e: 0, f: -3, g: None}
    second = {a: 2, b: 1, c: 3, d: 3, e: -2, f: 2, g: 3}
    result = compare_hot_cells(first, second, first_resolution=9, second_resolution=9)
    assert result.changes == dict(sorted({a: STAYED_HOT, d: STAYED_HOT, b: STOPPED_HOT, c: BECAME_HOT,
                                          f: BECAME_HOT, g: BECAME_HOT}.items()))
    # 90 % (Gi_Bin 1) is not hot: b went from 95 % to 90 % and so is "no longer hot"; e is hot in neither.
    assert result.counts == {BECAME_HOT: 3, STAYED_HOT: 2, STOPPED_HOT: 1}
    assert (result.compared, result.only_first, result.only_second, result.notes) == (7, 0, 0, [])


def test_cells_in_only_one_map_are_counted_apart_and_never_classed():
    a, b, c, *_ = CELLS
    result = compare_hot_cells({a: 3, b: 3}, {b: 0, c: 3}, first_resolution=9, second_resolution=9)
    assert result.changes == {b: STOPPED_HOT}
    assert (result.compared, result.only_first, result.only_second) == (1, 1, 1)


def test_different_resolutions_are_refused_in_words():
    with pytest.raises(ResolutionMismatch, match="resolution 8 and 9"):
        compare_hot_cells({}, {}, first_resolution=8, second_resolution=9)


def test_nothing_to_compare_is_said_plainly():
    a, b, *_ = CELLS
    assert "share no cells" in compare_hot_cells({a: 3}, {b: 3}, first_resolution=9, second_resolution=9).notes[0]
    quiet = compare_hot_cells({a: 0}, {a: 1}, first_resolution=9, second_resolution=9)
    assert quiet.counts == {BECAME_HOT: 0, STAYED_HOT: 0, STOPPED_HOT: 0}
    assert "no change in hot spots" in quiet.notes[0]


def test_a_border_cell_listed_per_community_keeps_its_strongest_class():
    a, b, *_ = CELLS
    assert strongest_per_cell([(a, 0), (a, 3), (a, None), (b, None), (b, -1)]) == {a: 3, b: -1}


def test_hexagons_are_closed_rings_around_their_cell():
    a, b, *_ = CELLS
    collection = hexagons_feature_collection({a: 3, b: 0}, "gi_bin", lambda v: v != 0)
    [feature] = collection["features"]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["properties"] == {"cell": a, "gi_bin": 3} and ring[0] == ring[-1] and len(ring) == 7
    lng = sum(p[0] for p in ring[:-1]) / 6
    lat = sum(p[1] for p in ring[:-1]) / 6
    assert h3.latlng_to_cell(lat, lng, 9) == a
