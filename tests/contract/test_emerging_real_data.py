"""Emerging hot spots on the real files of ../shared/data, on both stores.

Chicago: 45 days of 2012 in daily steps over the 77 community areas; the
counts per day the run analysed equal a count made here from the incidents as
listed, and both stores find the same pattern in every cell. San Francisco: the
second half of 2012 in weekly steps (its dates carry no time of day), where the
concentration of drug and robbery reports in a few blocks must show as lasting
hot spots.
"""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from app.services import analyses
from app.services.boundaries import BoundaryOptions, upload_boundary_set
from app.services.incident_import import import_incidents
from app.store import incidents as incident_store
from spatial.incidents_io import ReadOptions
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_real_data_on_both import CHICAGO, _chicago


def _emerging(store: StoreUnderTest, zone: str, **asked) -> dict:
    settings = store.settings.model_copy(update={"timezone": zone})
    request = analyses.AnalysisRequest(kind="emerging", seed=12, **asked)
    run_id = analyses.submit(store, request, settings=settings, user_id=None)
    analyses.execute(store, run_id)
    run = store.runs.get_run(run_id)
    assert run is not None and run.status == "completed", run and run.error
    cells = list(store.runs.iter_cells(run_id, kind=run.kind))
    return {"run": run, "cells": cells}


def test_chicago_daily_steps_count_each_day_as_the_incidents_list_it(store: StoreUnderTest, shared_data):
    _chicago(store, shared_data)
    found = _emerging(store, CHICAGO, resolution=8, step="day", start="2012-01-01T00:00:00", end="2012-02-15T00:00:00")
    steps = found["run"].provenance.document["steps"]
    assert len(steps["labels"]) == 45 and steps["labels"][0] == "2012-01-01" and steps["labels"][-1] == "2012-02-14"
    listed = store.incidents.list_incidents(incident_store.IncidentFilter(sources=("chi",)), after_id=None, limit=20_000)
    by_day = Counter(r["occurred_at"].astimezone(ZoneInfo(CHICAGO)).strftime("%Y-%m-%d") for r in listed
                     if r["community_id"] is not None)
    assert steps["incidents"] == [by_day[label] for label in steps["labels"]]
    assert sum(int(c["step_counts"].split(",")[3]) for c in found["cells"]) == by_day["2012-01-04"]
    patterns = found["run"].provenance.document["patterns"]
    assert sum(patterns.values()) == len(found["cells"]) and set(patterns) - {"No pattern detected"}


def test_chicago_emerging_patterns_are_the_same_on_both_stores(postgis_store: StoreUnderTest,
                                                                sqlite_store: StoreUnderTest, shared_data):
    found = {}
    for store in (postgis_store, sqlite_store):
        _chicago(store, shared_data)
        ran = _emerging(store, CHICAGO, resolution=8, step="day", start="2012-01-01T00:00:00",
                        end="2012-02-15T00:00:00")
        found[store.name] = {(c["cell"], c["category"], c["step_classes"], c["step_counts"]) for c in ran["cells"]}
    assert found["postgis"] == found["sqlite"]


def test_san_francisco_weekly_steps_find_lasting_hot_spots(store: StoreUnderTest, shared_data):
    blocks = shared_data / "sf_2012" / "SFCrime_blocks_2012_blockgroups.geojson"
    upload_boundary_set(store, blocks, original_name=blocks.name,
                        options=BoundaryOptions(name="SF reporting plots", activate=True),
                        service_area=None, max_bytes=store.settings.max_upload_bytes)
    path = shared_data / "sf_2012" / "sf_crime_2012H2_points.csv"
    import_incidents(store, path, filename=path.name, source="sfpd",
                     options=ReadOptions(timezone=ZoneInfo("America/Los_Angeles")))
    found = _emerging(store, "America/Los_Angeles", resolution=8, step="week", start="2012-07-01T00:00:00",
                      end="2013-01-01T00:00:00")
    document = found["run"].provenance.document
    labels = document["steps"]["labels"]
    # Weeks start on Monday: 2 July to 24 December are the whole weeks inside the half year.
    assert len(labels) == 26 and labels[0] == "week of 2012-07-02" and labels[-1] == "week of 2012-12-24"
    assert "before the first whole week" in document["steps"]["left_out"]
    patterns = document["patterns"]
    lasting = patterns.get("Persistent hot spot", 0) + patterns.get("Intensifying hot spot", 0) \
        + patterns.get("Diminishing hot spot", 0)
    assert lasting >= 3, patterns
