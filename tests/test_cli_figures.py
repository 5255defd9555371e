"""``hotspots figures upload|list`` against a throwaway database of its own (the CLI commits).

The parish populations are made up for the test (round numbers), not census figures.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.test_cli import _hotspots, cli_env  # noqa: F401  (cli_env: a fixture, on this module's own database)


def test_upload_refuse_replace_and_list(cli_env, tmp_path):
    _hotspots(cli_env, "boundaries", "import", "--sample", "--activate")
    names = json.loads((Path(__file__).resolve().parents[1] / "app" / "data" / "kna_parishes.geojson").read_text())
    parishes = [f["properties"]["shapeName"] for f in names["features"]]
    good = tmp_path / "population.csv"
    good.write_text("Parish;Population\n" + "".join(f"{p};{1000 * (i + 1)}\n" for i, p in enumerate(parishes)))
    first = _hotspots(cli_env, "figures", "upload", str(good), "--kind", "population", "--year", "2011",
                      "--source", "made up").stdout
    assert "population 'population' version 1" in first and "14 communities, keyed by name" in first
    bad = tmp_path / "bad.csv"
    bad.write_text("Parish,Population\nSaint George Basseterre,12\nAtlantis,3\nSaint Mary Cayon,-1\n")
    refused = _hotspots(cli_env, "figures", "upload", str(bad), "--kind", "population", expect=2).stderr
    assert "row 3: no community with the name 'Atlantis'" in refused and "row 4: the population of Saint Mary Cayon" in refused
    _hotspots(cli_env, "figures", "upload", str(good), "--kind", "population", "--year", "2021")
    listed = _hotspots(cli_env, "figures", "list").stdout.splitlines()
    assert len(listed) == 2 and listed[0].startswith("*") and "v2" in listed[0] and "v1" in listed[1]
    assert "(2011, made up)" in listed[1] and not listed[1].startswith("*")
    engine = create_engine(cli_env["HOTSPOTS_DATABASE_URL"])
    with engine.connect() as conn:
        outcomes = conn.execute(text("SELECT outcome FROM audit_events WHERE action = 'figures.upload' "
                                     "ORDER BY id")).scalars().all()
    engine.dispose()
    assert outcomes == ["ok", "refused", "ok"]
