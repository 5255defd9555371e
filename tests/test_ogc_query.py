"""OGC API – Features request parsing (no database): ``datetime`` instants, days and intervals with open
ends, run periods overlapping them, and simple property filters checked against queryables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.errors import BadRequest
from app.services.ogc_features import whole_number
from app.services.ogc_query import (Interval, Queryable, one_value_each, parse_datetime, property_filters,
                                    run_period)

ZONE = ZoneInfo("America/St_Kitts")  # UTC-4, no daylight saving
TICK = timedelta(microseconds=1)


def test_datetime_instants_days_and_intervals():
    instant = parse_datetime("2025-03-01T10:00:00Z", ZONE)
    assert instant == Interval(datetime(2025, 3, 1, 10, tzinfo=UTC), datetime(2025, 3, 1, 10, tzinfo=UTC) + TICK)
    day = parse_datetime("2025-03-01", ZONE)  # the whole local day
    assert day == Interval(datetime(2025, 3, 1, 4, tzinfo=UTC), datetime(2025, 3, 2, 4, tzinfo=UTC))
    local = parse_datetime("2025-03-01T10:00:00", ZONE)  # no offset: the service's zone
    assert local is not None and local.start == datetime(2025, 3, 1, 14, tzinfo=UTC)
    closed = parse_datetime("2025-01-01T00:00:00Z/2025-02-01T00:00:00+01:00", ZONE)
    assert closed == Interval(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 31, 23, tzinfo=UTC) + TICK)
    assert parse_datetime("../2025-02-01", ZONE) == Interval(None, datetime(2025, 2, 2, 4, tzinfo=UTC))
    assert parse_datetime("2025-02-01/", ZONE) == Interval(datetime(2025, 2, 1, 4, tzinfo=UTC), None)
    assert parse_datetime(None, ZONE) is None and parse_datetime(" ", ZONE) is None
    for wrong, said in [("yesterday", "RFC 3339"), ("../..", "open at both ends"), ("2025-02-01/2025-01-01", "start"),
                        ("2025-01-01/2025-02-01/2025-03-01", "two parts"), ("2025-13-01", "RFC 3339")]:
        with pytest.raises(BadRequest, match=said):
            parse_datetime(wrong, ZONE)


def test_run_periods_overlap_the_interval_with_open_ends():
    start, end = run_period("2025-01-01T00:00:00-04:00", "2025-04-01", ZONE)
    assert start == datetime(2025, 1, 1, 4, tzinfo=UTC) and end == datetime(2025, 4, 1, 4, tzinfo=UTC)
    assert parse_datetime("2025-03-31", ZONE).overlaps(start, end)  # type: ignore[union-attr]
    assert not parse_datetime("2025-04-01", ZONE).overlaps(start, end)  # type: ignore[union-attr]  # end exclusive
    assert not parse_datetime("../2024-12-31", ZONE).overlaps(start, end)  # type: ignore[union-attr]
    assert parse_datetime("2024-06-01/..", ZONE).overlaps(start, end)  # type: ignore[union-attr]
    assert parse_datetime("2030-01-01", ZONE).overlaps(None, None)  # type: ignore[union-attr]  # all dates


def test_property_filters_are_parsed_by_their_queryable_and_unknown_names_refused():
    offered = [Queryable("gi_bin", "integer", "Class"), Queryable("category", "string", "Category")]
    params = {"limit": "5", "bbox": "1,2,3,4", "f": "json", "gi_bin": "3", "category": "Theft"}
    assert property_filters(params, offered, "run-1") == {"gi_bin": 3, "category": "Theft"}
    with pytest.raises(BadRequest, match="whole number"):
        property_filters({"gi_bin": "hot"}, offered, "run-1")
    with pytest.raises(BadRequest, match="queryables are: category, gi_bin"):
        property_filters({"gibin": "3"}, offered, "run-1")
    assert property_filters({"gi_bin": "-3"}, offered, "run-1") == {"gi_bin": -3}
    # int() would read all of these (or overflow SQL with the last); only ASCII digits are whole numbers here
    for odd in ("٣", "²", " 3", "3_0", "9" * 19):
        with pytest.raises(BadRequest, match="whole number"):
            property_filters({"gi_bin": odd}, offered, "run-1")


def test_ids_and_cursors_are_ascii_digits_only():
    assert whole_number("42") == 42 and whole_number("0") == 0
    for odd in ("²", "٣", "-1", "+1", " 1", "", "9" * 19):  # "²".isdigit() is True but int("²") fails
        assert whole_number(odd) is None, odd


def test_a_parameter_given_twice_is_refused():
    assert one_value_each([("gi_bin", "3"), ("limit", "5")]) == {"gi_bin": "3", "limit": "5"}
    with pytest.raises(BadRequest, match="Give each parameter once: gi_bin appeared more than once"):
        one_value_each([("gi_bin", "3"), ("limit", "5"), ("gi_bin", "-3"), ("gi_bin", "1")])
