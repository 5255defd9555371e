"""The community brief and its history on both stores: the partner brief of a shared run (map cells,
ranking, trend from published months) renders the same way, and the history records and lists briefs."""

from __future__ import annotations

from datetime import datetime

from app.privacy import Audience
from app.services.briefs import community_brief
from app.templating import render_brief
from tests.contract.conftest import StoreUnderTest
from tests.contract.test_store_contract import load_incidents, load_parishes, run

PARTNER = Audience(role="partner", raw=False, min_count=5, max_resolution=8, hold_back_days=0, communities=None)
BASSETERRE = "Saint George Basseterre"


def test_a_partner_brief_renders_from_published_figures(store: StoreUnderTest, tmp_path):
    load_parishes(store)
    load_incidents(store, tmp_path, n=1500, seed=11)
    run_id = run(store, resolution=8, permutations=0, seed=3, audience="shared")
    community_id = next(c["id"] for c in store.boundaries.list_active_communities() if c["name"] == BASSETERRE)
    brief = community_brief(store, store.settings, community_id, PARTNER, None)
    assert brief["run"]["id"] == run_id and brief["place"] is not None
    assert brief["map_svg"].count('class="cell"') > 0 and 'class="outline"' in brief["map_svg"]
    assert all(r["incidents"] is None or r["incidents"] >= 5 or r["incidents"] == 0 for r in brief["ranking"])
    assert brief["audience"] == "partner" and "total not published" in brief["run"]["facts"]
    html = render_brief(brief)
    assert html.count('<section class="page"') == 2 and BASSETERRE in html


def test_the_history_records_written_and_failed_briefs(store: StoreUnderTest):
    first = store.briefs.record_brief(community_id=None, community="A", period="2025-03", audience="partner",
                                      path="/briefs/2025-04/a-1.pdf", sha256="ab" * 32)
    store.briefs.record_brief(community_id=None, community="B", period=None, audience="partner",
                              path="/briefs/2025-04/b-2.pdf", sha256=None, error="no such community")
    assert store.briefs.brief_written("/briefs/2025-04/a-1.pdf")
    assert not store.briefs.brief_written("/briefs/2025-04/b-2.pdf")  # failed: due again next pass
    rows = store.briefs.brief_history(limit=5)
    assert [(r["community"], r["status"]) for r in rows] == [("B", "failed"), ("A", "written")]
    assert rows[1]["id"] == first and isinstance(rows[1]["made_at"], datetime)
    assert rows[1]["made_at"].tzinfo is not None
    # The history's last word on a file (the job records a repeated failure only once).
    assert store.briefs.last_brief("/briefs/2025-04/b-2.pdf")["error"] == "no such community"
    store.briefs.record_brief(community_id=None, community="B", period=None, audience="partner",
                              path="/briefs/2025-04/b-2.pdf", sha256="cd" * 32)
    last = store.briefs.last_brief("/briefs/2025-04/b-2.pdf")
    assert (last["status"], last["sha256"], last["error"]) == ("written", "cd" * 32, None)
    assert last["made_at"].tzinfo is not None
    assert store.briefs.last_brief("/briefs/2025-04/none.pdf") is None
