"""``hotspots briefs make|history`` against a throwaway database of its own (the CLI commits)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from tests.test_cli import _hotspots, cli_env  # noqa: F401  (cli_env: a fixture, on this module's own database)


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
    assert len(listed) == 2
    assert "FAILED: period must be a month written YYYY-MM" in listed[0] and str(tmp_path / "b.pdf") in listed[0]
    assert "Saint George Basseterre" in listed[1] and str(out) in listed[1] and "sha256" in listed[1]
