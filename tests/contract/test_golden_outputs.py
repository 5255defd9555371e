"""What a fixed, seeded run looks like to its readers, byte for byte where it can be, on both stores.

A refactor of how runs and their kinds are read must not change any output. This test
builds one police and one shared run from seeded synthetic incidents and compares, with
files captured before the refactor (``tests/golden/<store>.json``):

- the run record, the run list, the cells as GeoJSON (two pages and a Gi_Bin filter) and
  as CSV, the neighbourhood ranking;
- decoded vector tiles (every feature's properties and geometry) at the run's resolution,
  at parent zooms and at a zoom finer than the run, and the TileJSON;
- the map page's HTML and the community page;

for an analyst (the police run) and a viewer (the shared run, below analyst). Volatile bits
(ids from sequences, timestamps, Folium's random element names) are normalised.
Write the files again with ``HOTSPOTS_WRITE_GOLDEN=1`` only when an output is meant to change.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import mapbox_vector_tile
from fastapi.testclient import TestClient

from spatial.synthetic import write_synthetic_csv
from tests.conftest import auth
from tests.contract.conftest import SAMPLE_BOUNDARIES, StoreUnderTest
from tests.contract.test_service_on_both import BASSETERRE, tile_of, tokens  # noqa: F401

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
# Keys whose integer values come from sequences (differ between databases and runs).
VOLATILE_IDS = {"id", "run", "run_id", "community_id", "boundary_set_id", "created_by", "import_id"}
# Keys whose values are measurements of this machine, not outputs of the run.
VOLATILE_VALUES = {"timings_s"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?")
FOLIUM_NAME = re.compile(r"_[0-9a-f]{32}(?![0-9a-f])")
ZOOMS = (8, 10, 11, 12, 13, 14)
# A number printed with more digits than 9 significant ones (in CSV, HTML, map scripts).
LONG_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d{7,}(?:e-?\d+)?(?![\w.])")


def _ids_out(text: str, runs: dict[int, str], communities: dict[int, str]) -> str:
    for run_id, label in runs.items():
        text = re.sub(rf"([Rr]un[ =-]|[Rr]un #|analyses/|run=|^\"h){run_id}(?!\d)", lambda m, label=label: m.group(1) + label,
                      text)
    for community_id, label in communities.items():
        text = re.sub(rf"(communities/|community=){community_id}(?!\d)", lambda m, label=label: m.group(1) + label, text)
    return LONG_NUMBER.sub(lambda m: _digits(float(m.group())),
                           FOLIUM_NAME.sub("_X", _days_out(TIMESTAMP.sub("<time>", text))))


def _digits(number: float) -> str:
    """A computed number to 9 significant digits: the last bits of a float differ between CPUs (numpy picks
    its SIMD loops by machine), and the golden files are about the service's outputs, not the FPU's."""
    return format(number, ".9g")


def _days_out(text: str) -> str:
    """The day the test ran, where a page shows a run's date in brackets ("run #S (2026-12-02)"), as UTC and
    the service's zone may see it; the data's own dates are left alone."""
    today = datetime.now(timezone.utc).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        text = text.replace(f"({day.isoformat()})", "(<today>)")
    return text


def _normalised(value: Any, runs: dict[int, str], communities: dict[int, str]) -> Any:
    if isinstance(value, dict):
        # keys that are community ids (a run's incidents by community) take the community's label
        return {(communities.get(int(k), k) if k.isdigit() else k):
                ("<id>" if k in VOLATILE_IDS and isinstance(v, int) and not isinstance(v, bool)
                 else "<measured>" if k in VOLATILE_VALUES
                 else _normalised(v, runs, communities)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v, runs, communities) for v in value]
    if isinstance(value, str):
        return _ids_out(value, runs, communities)
    if isinstance(value, float):
        return float(_digits(value))
    return value


def _tile(http: TestClient, headers: dict, run_id: int, z: int) -> Any:
    x, y = tile_of(*BASSETERRE, z)
    response = http.get(f"/tiles/hotspots/{z}/{x}/{y}.mvt", headers=headers, params={"run": run_id})
    if response.status_code != 200:
        return {"status": response.status_code}
    layers = mapbox_vector_tile.decode(response.content)
    features = layers.get("hotspots", {}).get("features", [])
    return {"status": 200, "etag": response.headers.get("etag"), "features": sorted(
        ({"properties": f["properties"], "geometry": f["geometry"]} for f in features),
        key=lambda f: json.dumps(f, sort_keys=True))}


def _outputs(http: TestClient, headers: dict, run_id: int) -> dict[str, Any]:
    base = f"/api/v1/analyses/{run_id}"
    first = http.get(f"{base}/cells", headers=headers, params={"limit": 40})
    after = first.json().get("next")
    out: dict[str, Any] = {
        "run": http.get(base, headers=headers).json(),
        "cells_page_1": first.json(),
        "cells_page_2": http.get(after, headers=headers).json() if after else None,
        "cells_hot": http.get(f"{base}/cells", headers=headers, params={"gi_bin": [2, 3], "limit": 500}).json(),
        "cells_csv": http.get(f"{base}/cells", headers=headers, params={"format": "csv"}).text,
        "neighbourhoods": http.get(f"{base}/neighbourhoods", headers=headers).json(),
        "tilejson": http.get("/tiles/hotspots.json", headers=headers, params={"run": run_id}).json(),
        "map_html": http.get(f"/maps/analyses/{run_id}", headers=headers).text,
    }
    for z in ZOOMS:
        out[f"tile_z{z}"] = _tile(http, headers, run_id, z)
    return out


def test_outputs_of_a_seeded_run_are_unchanged(client: TestClient, tokens, store: StoreUnderTest, tmp_path):  # noqa: F811
    gis, analyst, viewer = (auth(tokens[r]) for r in ("gis", "analyst", "viewer"))
    with SAMPLE_BOUNDARIES.open("rb") as handle:
        assert client.post("/api/v1/boundary-sets", headers=gis, files={"file": ("parishes.geojson", handle)},
                           data={"activate": "true"}).status_code == 201
    path = write_synthetic_csv(tmp_path / "incidents.csv", 2500, 9)
    with path.open("rb") as handle:
        assert client.post("/api/v1/incidents/imports", headers=analyst, files={"file": ("incidents.csv", handle)},
                           data={"source": "SYNTHETIC-golden"}).status_code == 201
    police = client.post("/api/v1/analyses", headers=analyst, json={"resolution": 9, "permutations": 99, "seed": 4})
    shared = client.post("/api/v1/analyses", headers=analyst,
                         json={"resolution": 8, "permutations": 99, "seed": 4, "audience": "shared",
                               "start": "2025-01-01", "end": "2026-01-01"})  # fixed: not "up to this month"
    police_id, shared_id = police.json()["id"], shared.json()["id"]
    runs = {police_id: "P", shared_id: "S"}
    listed = client.get("/api/v1/communities", headers=analyst).json()
    listed = listed["communities"] if isinstance(listed, dict) else listed
    communities = {c["id"]: c["name"] for c in listed}
    basseterre = next(c["id"] for c in listed if "George Basseterre" in c["name"])

    captured = {
        "police_for_analyst": _outputs(client, analyst, police_id),
        "shared_for_analyst": {"run": client.get(f"/api/v1/analyses/{shared_id}", headers=analyst).json()},
        "shared_for_viewer": _outputs(client, viewer, shared_id),
        "police_for_viewer": {"run_status": client.get(f"/api/v1/analyses/{police_id}", headers=viewer).status_code,
                              "tile_status": _tile(client, viewer, police_id, 13)["status"]},
        "list_for_analyst": client.get("/api/v1/analyses", headers=analyst).json(),
        "list_for_viewer": client.get("/api/v1/analyses", headers=viewer).json(),
        "community_page_for_analyst": client.get(f"/communities/{basseterre}", headers=analyst).text,
        "community_page_for_viewer": client.get(f"/communities/{basseterre}", headers=viewer).text,
    }
    assert captured["police_for_analyst"]["run"]["status"] == "completed"
    assert captured["shared_for_viewer"]["run"]["status"] == "completed"
    normalised = json.loads(json.dumps(_normalised(captured, runs, communities), default=str))
    golden = GOLDEN / f"{store.name}.json"
    if os.environ.get("HOTSPOTS_WRITE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(normalised, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    if os.environ.get("HOTSPOTS_GOLDEN_ACTUAL"):  # where to put what came out, to diff by hand
        Path(os.environ["HOTSPOTS_GOLDEN_ACTUAL"], f"{store.name}.json").write_text(
            json.dumps(normalised, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for key in sorted(expected):
        if isinstance(expected[key], dict):
            for part in sorted(expected[key]):
                assert normalised[key].get(part) == expected[key][part], f"{key}.{part} changed"
        assert normalised[key] == expected[key], f"{key} changed"
    assert normalised == expected
