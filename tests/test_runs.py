"""The typed Run: read from a row, shown as the API always showed it, judged by the privacy rules."""

from __future__ import annotations

from datetime import UTC, datetime

from app.privacy import CLASSED, Audience
from app.runs import RECORD_FIELDS, SUMMARY_FIELDS, Run
from spatial.kinds import kind_named

ROW = {
    "id": 7, "kind": "hotspot", "status": "completed", "progress": 1.0, "stage": "done", "audience": "shared",
    "parameters": {"resolution": 8, "communities": ["Saint Anne Sandy Point", "Saint Paul Capisterre"],
    "hold_back_days": 30, "sensitive_categories": CLASSED, "start": "2025-01-01T00:00:00-04:00",
    "end": "2025-04-01T00:00:00-04:00", "permutations": 99},
    "seed": 4, "boundary_set_id": 2, "created_by": None, "created_at": datetime(2025, 5, 1, tzinfo=UTC),
    "started_at": None, "finished_at": datetime(2025, 5, 1, 0, 1, tzinfo=UTC), "error": None,
    "provenance": {"cells": 120, "incidents_used": 900, "synthetic": True, "moran": {"I": 0.1},
                   "significance": {"inference": "conditional"}},
    "data_changed_at": None, "data_changed": None,
}
PARTNER = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=30,
                   communities=frozenset({"Saint Paul Capisterre"}))


def test_a_run_reads_its_row_and_shows_it_unchanged():
    run = Run.from_row(ROW)
    assert run.kind is kind_named("hotspot") and run.completed and run.synthetic
    assert run.parameters.resolution == 8 and run.parameters.hold_back_days == 30
    assert run.provenance.cells == 120 and run.provenance.inference == "conditional"
    record = run.record()
    assert tuple(record) == RECORD_FIELDS
    assert record == {k: ROW[k] for k in RECORD_FIELDS}


def test_a_listed_run_has_its_synthetic_flag_and_no_provenance():
    listed = {k: v for k, v in ROW.items() if k not in ("provenance", "created_by", "started_at")}
    run = Run.from_row({**listed, "synthetic": True})
    summary = run.summary()
    assert tuple(summary) == SUMMARY_FIELDS and summary["synthetic"] is True and "provenance" not in summary
    assert run.record()["provenance"] is None


def test_runs_stored_before_kinds_are_gi_star_runs():
    assert Run.from_row({**ROW, "kind": None}).kind is kind_named("hotspot")


def test_the_privacy_rules_read_the_run():
    run = Run.from_row(ROW)
    assert PARTNER.sees_run(run)
    scoped = run.parameters.scoped(PARTNER.sees_community)
    assert scoped.communities == ("Saint Paul Capisterre",) and scoped.document["permutations"] == 99
    too_fine = Run.from_row({**ROW, "parameters": {**ROW["parameters"], "resolution": 9}})
    police_only = Run.from_row({**ROW, "audience": "police"})
    weaker = Run.from_row({**ROW, "parameters": {**ROW["parameters"], "hold_back_days": 0}})
    assert not any(PARTNER.sees_run(r) for r in (too_fine, police_only, weaker))
    elsewhere = Run.from_row({**ROW, "parameters": {**ROW["parameters"], "communities": ["Saint Anne Sandy Point"]}})
    assert not PARTNER.sees_run(elsewhere)
