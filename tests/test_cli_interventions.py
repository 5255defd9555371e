"""``hotspots interventions add|list|show|evaluate`` against a throwaway database of its own (the CLI commits)."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from tests.test_cli import _hotspots, cli_env  # noqa: F401  (cli_env: a fixture, on this module's own database)


def test_add_refuse_list_show_evaluate(cli_env, tmp_path):
    _hotspots(cli_env, "boundaries", "import", "--sample", "--activate")
    incidents = tmp_path / "thefts.csv"  # made up: 40 thefts in Basseterre, January and February 2024
    incidents.write_text("id,latitude,longitude,date,category\n" + "".join(
        f"t{i},{17.295 + (i % 5) * 0.001},{-62.726 + (i % 3) * 0.001},2024-0{1 + i % 2}-{1 + i % 28:02d} 10:00,Theft\n"
        for i in range(40)))
    _hotspots(cli_env, "incidents", "import", str(incidents), "--source", "cli", "--no-progress")
    added = _hotspots(cli_env, "interventions", "add", "--name", "Night patrols", "--start", "2024-02-01",
                      "--end", "2024-02-29", "--community", "Saint George Basseterre", "--shared").stdout
    assert added.startswith("intervention 1: Night patrols in Saint George Basseterre") and "(shared)" in added
    polygon = tmp_path / "area.geojson"
    polygon.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                       "geometry": {"type": "Polygon", "coordinates": [[[-61, 16], [-60.9, 16], [-60.9, 16.1],
                                                                        [-61, 16]]]}}]}))
    refused = _hotspots(cli_env, "interventions", "add", "--name", "At sea", "--start", "2024-02-01", "--end",
                        "2024-02-29", "--geometry", str(polygon), expect=2).stderr
    assert "outside every community" in refused
    assert "No community called 'Atlantis'" in _hotspots(
        cli_env, "interventions", "add", "--name", "x", "--start", "2024-02-01", "--end", "2024-02-29",
        "--community", "Atlantis", expect=2).stderr
    listed = _hotspots(cli_env, "interventions", "list").stdout.splitlines()
    assert len(listed) == 1 and "Night patrols" in listed[0] and "not evaluated" in listed[0]
    assert json.loads(_hotspots(cli_env, "interventions", "show", "1").stdout)["target"]["communities"]
    evaluated = _hotspots(cli_env, "interventions", "evaluate", "1").stdout
    assert "target      before" in evaluated and "No effect can be claimed" in evaluated
    assert "evaluated" in _hotspots(cli_env, "interventions", "list").stdout
    engine = create_engine(cli_env["HOTSPOTS_DATABASE_URL"])
    with engine.connect() as conn:
        outcomes = conn.execute(text("SELECT action, outcome FROM audit_events WHERE action LIKE 'interventions.%' "
                                     "ORDER BY id")).all()
    engine.dispose()
    assert [tuple(o) for o in outcomes] == [("interventions.create", "ok"), ("interventions.create", "refused"),
                                            ("interventions.create", "refused"), ("interventions.evaluate", "ok")]
