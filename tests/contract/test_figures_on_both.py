"""Populations and indicators per community on both stores: versions, the active one, a refused file
changes nothing, a community's figures, and rates of a run from them.

The parish populations here are made up for the test (round numbers), not census figures.
"""

from __future__ import annotations

import pytest

from app.privacy import Audience
from app.services import figures, rates
from spatial.errors import InvalidUpload
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import load_incidents, load_parishes, run

POLICE = Audience(role="analyst", raw=True, min_count=5, max_resolution=8, hold_back_days=0, communities=None)
PARISHES = ["Christ Church Nichola Town", "Saint Anne Sandy Point", "Saint George Basseterre",
            "Saint George Gingerland", "Saint James Windward", "Saint John Capisterre", "Saint John Figtree",
            "Saint Mary Cayon", "Saint Paul Capisterre", "Saint Paul Charlestown", "Saint Peter Basseterre",
            "Saint Thomas Lowland", "Saint Thomas Middle Island", "Trinity Palmetto Point"]
# Made up: 1,000 residents per parish number, 14,000 for Basseterre.
POPULATION = {name: (14_000 if name == "Saint George Basseterre" else 1_000 * (i + 1)) for i, name in enumerate(PARISHES)}


def _csv(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def _population_file(tmp_path, scale: float = 1.0):
    # Names in capitals: keys are matched whatever their case.
    return _csv(tmp_path, "population.csv", "Parish,Population\n" + "".join(
        f"{name.upper()},{round(value * scale)}\n" for name, value in POPULATION.items()))


def test_uploads_are_versioned_and_the_latest_is_active(store: StoreUnderTest, tmp_path):
    set_id = load_parishes(store)
    keys = store.figures.community_keys(set_id)
    assert len(keys) == 14 and {k["code"] for k in keys} >= {"KN-01", "KN-03"}
    first = figures.upload_figures(store, _population_file(tmp_path), filename="population.csv",
                                   upload=figures.FigureUpload(kind="population", year=2011, source="test"), user_id=None)
    assert first["keyed_by"] == "name" and first["figures"][0]["version"] == 1
    second = figures.upload_figures(store, _population_file(tmp_path, 1.1), filename="population.csv",
                                    upload=figures.FigureUpload(kind="population", year=2021, source="test"), user_id=None)
    assert second["figures"][0]["version"] == 2
    listed = figures.list_figures(store, set_id)
    assert [(f["version"], f["active"], f["communities"]) for f in listed] == [(2, True, 14), (1, False, 14)]
    assert listed[0]["uploaded_at"].tzinfo is not None
    active = store.figures.active_figure(set_id, "population", "population")
    basseterre = next(k["id"] for k in keys if k["name"] == "Saint George Basseterre")
    assert active["year"] == 2021 and active["values"][basseterre] == 15_400

    # Keyed by ISO code in lower case (KN-14 does not exist: Trinity Palmetto Point is KN-15).
    codes = sorted(k["code"] for k in keys)
    indicators = _csv(tmp_path, "factors.csv", "code,unemployment,youth share\n" + "".join(
        f"{code.lower()},{5 + i},{0.2 + i / 100}\n" for i, code in enumerate(codes)))
    stored = figures.upload_figures(store, indicators, filename="factors.csv", user_id=None,
                                    upload=figures.FigureUpload(kind="indicator", year=2020, unit="%"))
    assert stored["keyed_by"] == "code" and [f["name"] for f in stored["figures"]] == ["unemployment", "youth share"]
    shown = store.figures.figures_of_community(basseterre)
    assert [(f["kind"], f["name"], f["value"]) for f in shown] == [
        ("population", "population", 15_400.0), ("indicator", "unemployment", 7.0), ("indicator", "youth share", 0.22)]
    assert store.figures.active_figure(set_id, "indicator", "nothing") is None


def test_a_refused_file_changes_nothing(store: StoreUnderTest, tmp_path):
    set_id = load_parishes(store)
    bad = _csv(tmp_path, "bad.csv", "parish,population\nSaint George Basseterre,13000\nAtlantis,5\n"
                                    "saint george basseterre,12\nSaint Mary Cayon,-4\nSaint John Figtree,many\n")
    with pytest.raises(InvalidUpload) as refused:
        figures.upload_figures(store, bad, filename="bad.csv", upload=figures.FigureUpload(kind="population"),
                               user_id=None)
    assert [r["row"] for r in refused.value.details["rejected_rows"]] == [3, 4, 5, 6]
    assert store.figures.list_figures(set_id) == []


def test_rates_of_a_run_from_the_uploaded_population(store: StoreUnderTest, tmp_path):
    load_parishes(store)
    load_incidents(store, tmp_path, n=1500)
    figures.upload_figures(store, _population_file(tmp_path), filename="population.csv",
                           upload=figures.FigureUpload(kind="population", year=2011, source="test"), user_id=None)
    run_id = run(store, resolution=8, permutations=0, seed=3)
    found = rates.run_rates(store, store.runs.get_run(run_id), POLICE, per=1000)
    by_community = store.runs.get_run(run_id).provenance.incidents_by_community
    assert found["population"]["from"] == "uploaded figures" and found["population"]["year"] == 2011
    for row in found["communities"]:
        expected = by_community[str(row["community_id"])] / POPULATION[row["community"]] * 1000
        assert row["rate"] == pytest.approx(expected, abs=5e-4), row
    # 14 parishes: enough for Moran's I of rates (at least 10).
    assert found["rate_moran"]["communities"] == 14 and 0 <= found["rate_moran"]["p_value"] <= 1


def test_no_population_no_rates_in_words(store: StoreUnderTest, tmp_path):
    from app.errors import Conflict, NotFound
    from app.services.factors import crime_beside_factor

    load_parishes(store)  # the shipped parishes carry no population
    load_incidents(store, tmp_path, n=300)
    found = store.runs.get_run(run(store, resolution=8, permutations=0, seed=3))
    with pytest.raises(Conflict, match="No population is known"):
        rates.run_rates(store, found, POLICE)
    with pytest.raises(NotFound, match="Upload one first"):
        crime_beside_factor(store, found, POLICE, "unemployment")
