"""The real files of ../shared/data on both stores: the same rows kept, the same communities found.

Chicago: 10,000 crimes of 2012 and the 77 community areas (87 rows without
coordinates rejected); San Francisco: the second half of 2012 (dates without
a time, 3,332 repeated incidents kept once).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import h3
import numpy as np

from app.services.boundaries import BoundaryOptions, upload_boundary_set
from app.services.incident_import import import_incidents
from app.store import incidents as incident_store
from spatial.incidents_io import ReadOptions
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import counts_per_cell

CHICAGO = "America/Chicago"


def _chicago(store: StoreUnderTest, shared_data) -> dict:
    boundaries = shared_data / "chicago" / "Chicago_2020_community_areas.geojson"
    upload_boundary_set(store, boundaries, original_name=boundaries.name,
                        options=BoundaryOptions(name="Chicago community areas", activate=True),
                        service_area=None, max_bytes=store.settings.max_upload_bytes)
    path = shared_data / "chicago" / "chicago_crimes_2012_10k.csv"
    report = import_incidents(store, path, filename=path.name, source="chi",
                              options=ReadOptions(timezone=ZoneInfo(CHICAGO), chunk_rows=3000))
    communities = store.boundaries.list_active_communities()
    return {"report": report, "per_community": {c["name"]: c["incidents"] for c in communities}}


def test_chicago_on_each_store(store: StoreUnderTest, shared_data):
    loaded = _chicago(store, shared_data)
    report = loaded["report"]
    assert report.rejected == 87 and report.duplicates == 1 and report.inserted == 9_912  # one row twice
    assert len(loaded["per_community"]) == 77 and sum(loaded["per_community"].values()) > 9_800
    [first] = [r for r in store.incidents.list_incidents(incident_store.IncidentFilter(sources=("chi",)),
                                                        after_id=None, limit=20_000)
               if r["external_id"] == "HY448381"]
    assert first["occurred_at"].astimezone(ZoneInfo(CHICAGO)).strftime("%Y-%m-%d %H:%M:%S") == "2012-01-01 00:00:00"
    assert h3.latlng_to_cell(first["lat"], first["lon"], 15) == h3.int_to_str(first["h3_cell"])


def test_chicago_gives_the_same_answers_on_both_stores(postgis_store: StoreUnderTest, sqlite_store: StoreUnderTest, shared_data):
    found = {}
    for store in (postgis_store, sqlite_store):
        loaded = _chicago(store, shared_data)
        cells, counts = counts_per_cell(store, 9, categories=("THEFT", "BATTERY"), without_sensitive=True)
        found[store.name] = (loaded["per_community"], cells, counts)
    (pg_communities, pg_cells, pg_counts), (lite_communities, lite_cells, lite_counts) = found["postgis"], found["sqlite"]
    assert pg_communities == lite_communities
    np.testing.assert_array_equal(pg_cells, lite_cells)
    np.testing.assert_array_equal(pg_counts, lite_counts)


def test_san_francisco_dates_without_time_and_repeats(store: StoreUnderTest, shared_data):
    path = shared_data / "sf_2012" / "sf_crime_2012H2_points.csv"
    report = import_incidents(store, path, filename=path.name, source="sfpd",
                              options=ReadOptions(timezone=ZoneInfo("America/Los_Angeles")))
    assert report.rejected == 0 and report.duplicates == 3_332 and report.inserted == 10_140
    rows = store.incidents.list_incidents(incident_store.IncidentFilter(sources=("sfpd",)),
                                         after_id=None, limit=20_000)
    local = {r["occurred_at"].astimezone(ZoneInfo("America/Los_Angeles")).strftime("%H:%M:%S") for r in rows}
    assert local == {"00:00:00"}
