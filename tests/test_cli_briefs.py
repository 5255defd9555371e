"""``hotspots briefs make|history`` against a throwaway database of its own (the CLI commits)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest

from tests.test_cli import _hotspots, cli_env  # noqa: F401  (cli_env: a fixture, on this module's own database)

BASSETERRE = "Saint George Basseterre"


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium (scripts/ensure-browser.sh) prints the PDF")
def test_make_a_brief_refuse_a_bad_one_and_list_the_history(cli_env, tmp_path):  # noqa: F811
    _hotspots(cli_env, "boundaries", "import", "--sample", "--activate")
    out = tmp_path / "brief.pdf"
    made = _hotspots(cli_env, "briefs", "make", "--community", "saint george basseterre", "--out", str(out)).stdout
    assert out.read_bytes().startswith(b"%PDF")
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in made and "(partner)" in made
    unknown = _hotspots(cli_env, "briefs", "make", "--community", "Atlantis", "--out", str(tmp_path / "a.pdf"),
                        expect=2)
    assert "no community named 'Atlantis'" in unknown.stderr
    bad = _hotspots(cli_env, "briefs", "make", "--community", "Saint George Basseterre", "--period", "2024-13",
                    "--out", str(tmp_path / "b.pdf"), expect=2)
    assert "YYYY-MM" in bad.stderr and not (tmp_path / "b.pdf").exists()
    listed = _hotspots(cli_env, "briefs", "history").stdout.splitlines()
    assert len(listed) == 3, listed  # each refusal once, the community that does not exist too
    assert "FAILED: period must be a month written YYYY-MM" in listed[0] and str(tmp_path / "b.pdf") in listed[0]
    assert "Atlantis" in listed[1] and "FAILED: There is no community named 'Atlantis'" in listed[1]
    assert "Saint George Basseterre" in listed[2] and str(out) in listed[2] and "sha256" in listed[2]


@pytest.mark.skipif(not shutil.which("chromium") or not shutil.which("pdftotext"),
                    reason="Chromium prints the PDF, pdftotext reads it")
def test_a_partner_brief_holds_its_own_community_only(cli_env, tmp_path):  # noqa: F811
    from app.cli import _store
    from app.services import analyses
    from app.settings import Settings
    from spatial.synthetic import write_synthetic_csv

    settings = Settings(database_url=cli_env["HOTSPOTS_DATABASE_URL"])
    engine, store = _store(settings)
    try:
        with store.session:
            if store.boundaries.active_boundary_set_id() is None:
                _hotspots(cli_env, "boundaries", "import", "--sample", "--activate")
            names = [c["name"] for c in store.boundaries.list_active_communities()]
    finally:
        engine.dispose()
    incidents = write_synthetic_csv(tmp_path / "synthetic.csv", 3000, 7)  # SYNTHETIC, clustered around the towns
    _hotspots(cli_env, "incidents", "import", str(incidents), "--source", "SYNTHETIC-briefs", "--no-progress")
    engine, store = _store(settings)
    try:  # a shared run of every community, which partners of each may open
        with store.session:
            run_id = analyses.submit(store, analyses.AnalysisRequest(resolution=8, permutations=0, seed=1,
                                                                       audience="shared"),
                                     settings=settings, user_id=None)
            analyses.execute(store, run_id)
    finally:
        engine.dispose()
    out = tmp_path / "partner.pdf"
    _hotspots(cli_env, "briefs", "make", "--community", BASSETERRE, "--out", str(out))
    words = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    shown = [name for name in names if name != BASSETERRE and name in words]
    assert not shown, f"other communities in the partner brief of {BASSETERRE}: {shown}"
    assert f"Run {run_id} counts" in words and BASSETERRE in words
    # The police brief of the same community ranks it among all of them.
    police = tmp_path / "police.pdf"
    _hotspots(cli_env, "briefs", "make", "--community", BASSETERRE, "--out", str(police), "--police")
    police_words = " ".join(subprocess.run(["pdftotext", str(police), "-"], capture_output=True, text=True,
                                           check=True).stdout.split())
    assert sum(name in police_words for name in names) > 2
    for pdf in (out, police):  # two A4 pages each, with the SYNTHETIC banner and a year's trend
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+2$", info, re.M) and "(A4)" in info, info
