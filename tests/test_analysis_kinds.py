"""Analysis kinds: declarations are checked when made, and the store's SQL follows them.

A second, made-up kind (a rate per cell, classed in quintiles) goes through the
same generators as Gi*, so a new kind is a declaration, not edits across the store.
"""

from __future__ import annotations

import dataclasses

import h3
import numpy as np
import pytest

from app.store import kind_sql
from spatial.kinds import DEFAULT_KIND, KINDS, kind_named
from spatial.kinds.base import AnalysisKind, CellClass, CellCondition, CellField, ClassScheme
from spatial.kinds.emerging import EMERGING, series_text, series_values
from spatial.kinds.hotspot import HOTSPOT
from spatial.kinds.parents import group_under_parents

BASSETERRE = (17.2955, -62.7261)


def _highest(values, index: np.ndarray, n: int) -> dict[str, np.ndarray]:
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, index, values["rate_class"])
    return {"rate_class": best}


RATES = AnalysisKind(
    name="rates-test", title="Rates", cell_table="rate_cells", published_cell_table="published_rate_cells",
    parent_table="rate_cell_parents", published_parent_table="published_rate_cell_parents",
    fields=(CellField("rate", "float"), CellField("rate_class", "smallint", published=True)),
    class_field="rate_class",
    schemes=(ClassScheme("rate_class", "Rates", "Rate quintile", "Quintile",
                         tuple(CellClass(q, f"Quintile {q}", "#000000") for q in range(1, 6))),),
    legend_note="Quintiles of the smoothed rate.",
    csv_columns=("cell", "community", "incidents", "rate", "rate_class"),
    published_csv_columns=("cell", "community", "incidents", "suppressed", "rate_class"),
    tile_fields=("rate_class", "rate"), tile_descriptions={"rate_class": "Quintile", "rate": "Rate"},
    map_statistics=(("rate", 1, "Rate"),), parent_fields=(("rate_class", "smallint"),),
    aggregate_parents=_highest,
)


def test_the_default_kind_is_gi_star_and_unknown_kinds_are_refused():
    assert kind_named(None) is kind_named(DEFAULT_KIND) is HOTSPOT is KINDS["hotspot"]
    assert kind_named("emerging") is EMERGING
    with pytest.raises(ValueError, match="no analysis kind 'trends'"):
        kind_named("trends")


@pytest.mark.parametrize("bad", ["gi_bin; DROP TABLE users", "Gi_Bin", "1st", "a b", ""])
def test_a_kind_declares_plain_identifiers_only(bad):
    with pytest.raises(ValueError, match="not a plain identifier"):
        CellField(bad, "float")
    with pytest.raises(ValueError):
        dataclasses.replace(RATES, cell_table=bad)


def test_a_kind_names_only_fields_it_stores():
    with pytest.raises(ValueError, match="does not store"):
        dataclasses.replace(RATES, tile_fields=("rate_class", "elsewhere"))
    with pytest.raises(ValueError, match="not a comparison"):
        CellCondition("rate_class", "<>", 1)  # type: ignore[arg-type]


def test_a_kinds_ranking_names_are_checked_too():
    ranking = HOTSPOT.ranking
    assert ranking is not None
    with pytest.raises(ValueError, match="not a plain identifier"):
        dataclasses.replace(ranking, strength="gi_z DESC; --")
    with pytest.raises(ValueError, match="not a plain identifier"):
        dataclasses.replace(ranking, counts=(("x y", ranking.hot),))
    with pytest.raises(ValueError, match="does not store"):
        dataclasses.replace(RATES, ranking=dataclasses.replace(ranking, strength="rate_z"))


def test_published_outputs_carry_classes_only():
    for kind in (HOTSPOT, EMERGING, RATES):
        stored = {f.name: f for f in kind.fields}
        assert all(stored[name].published for name in kind.published_fields)
        assert set(kind.published_tile_fields) <= set(kind.published_fields)
        published_csv = set(kind.published_csv_columns) - {"cell", "community", "incidents", "suppressed",
                                                           "centre_lat", "centre_lon"}
        assert published_csv <= set(kind.published_fields), kind.name
    assert HOTSPOT.published_fields == ("gi_bin", "lisa_quadrant", "lisa_label")


def test_store_sql_follows_the_declaration():
    select, table = kind_sql.cell_select(RATES, published=False)
    assert (select, table) == ("SELECT h.cell, h.community_id, c.name AS community, h.incidents, h.rate, "
                               "h.rate_class", "rate_cells")
    select, table = kind_sql.cell_select(RATES, published=True)
    assert "h.rate," not in select and table == "published_rate_cells"
    assert kind_sql.cell_columns(RATES) == ("run_id", "cell", "community_id", "incidents", "rate", "rate_class",
                                            "geom")
    assert kind_sql.tile_cell_columns(RATES, True, masked=False) == "h.rate_class, NULL AS rate"
    assert kind_sql.tile_cell_columns(RATES, False, masked=True) == (
        "h.rate_class, CASE WHEN h.incidents >= :min_count THEN h.rate END AS rate")
    with pytest.raises(ValueError, match="no neighbourhood ranking"):
        kind_sql.ranking_sums(RATES)
    assert "sum(CASE WHEN h.gi_bin = 3 THEN 1 ELSE 0 END) AS hot_99" in kind_sql.ranking_sums(HOTSPOT)


def test_parents_sum_counts_and_take_the_kinds_own_columns():
    children = [h3.str_to_int(c) for c in h3.cell_to_children(h3.latlng_to_cell(*BASSETERRE, 8), 10)][:4]
    cells, incidents = np.array(children, dtype=np.int64), np.array([1, 2, 3, 4])
    groups = group_under_parents(cells, incidents, 8, min_count=3)
    assert len(groups.parents) == 1 and groups.cells[0] == 4 and groups.incidents[0] == 10
    assert groups.published[0] == 7  # only children shown below analyst
    assert RATES.aggregate_parents({"rate_class": np.array([1, 5, 2, 3])}, groups.index, 1)["rate_class"][0] == 5
    gi = HOTSPOT.aggregate_parents({"gi_bin": np.array([0, -3, 2, 3])}, groups.index, 1)
    assert (gi["gi_bin"][0], gi["hot_cells"][0], gi["cold_cells"][0]) == (3, 2, 1)


def test_an_emerging_parent_keeps_the_most_urgent_pattern_and_the_strongest_class_of_each_step():
    children = [h3.str_to_int(c) for c in h3.cell_to_children(h3.latlng_to_cell(*BASSETERRE, 8), 10)][:4]
    groups = group_under_parents(np.array(children, dtype=np.int64), np.array([1, 2, 3, 4]), 8, min_count=3)
    # historical hot, intensifying cold, new hot, no pattern: any hot before cold, new before historical
    values = {"category": np.array([7, -3, 1, 0]),
              "step_classes": np.array(["3,0,-1", "-3,-3,-3", "0,2,3", "0,0,0"], dtype=object)}
    parent = EMERGING.aggregate_parents(values, groups.index, 1)
    assert (parent["category"][0], parent["hot_cells"][0], parent["cold_cells"][0]) == (1, 2, 1)
    assert parent["step_classes"][0] == "3,-3,3"  # per step: |class| first, hot on a tie
    only_cold = EMERGING.aggregate_parents({"category": np.array([-7, -3, 0, 0]), "step_classes": values["step_classes"]},
                                           groups.index, 1)
    assert only_cold["category"][0] == -3  # intensifying is more urgent than historical


def test_the_emerging_series_round_trips_and_the_parents_read_their_inputs():
    series = np.array([[0, 2, -3], [1, 1, 0]])
    assert list(series_text(series)) == ["0,2,-3", "1,1,0"]
    assert (series_values(series_text(series)) == series).all()
    assert EMERGING.parent_sources == ("category", "step_classes")
    assert HOTSPOT.parent_sources == ("gi_bin",)
    with pytest.raises(ValueError, match="does not store"):
        dataclasses.replace(RATES, parent_inputs=("elsewhere",))
