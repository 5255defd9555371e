"""An import whose latitude and longitude columns are exchanged is refused, not filed as 'outside'."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from tests.conftest import auth
from tests.test_analyses_api import BASSETERRE, _activate_parishes


def _calls(tmp_path, swapped: bool, n: int = 40, strays: int = 0):
    """Points in and around Basseterre (on land), written in the right or the exchanged columns."""
    rng = np.random.default_rng(5)
    lat, lon = BASSETERRE[0] + rng.uniform(-0.005, 0.01, n), BASSETERRE[1] + rng.uniform(-0.01, 0.01, n)
    lines = ["id,latitude,longitude,date,category"]
    for i, (a, b) in enumerate(zip(lat, lon)):
        first, second = (b, a) if swapped else (a, b)
        lines.append(f"c{i},{first:.6f},{second:.6f},2024-03-01 10:00,Theft")
    lines += [f"s{i},41.88,-87.63,2024-03-01 10:00,Theft" for i in range(strays)]  # Chicago: really outside
    path = tmp_path / "calls.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _import(client, token, path):
    with path.open("rb") as handle:
        return client.post("/api/v1/incidents/imports", headers=auth(token), files={"file": ("calls.csv", handle)},
                           data={"source": "swap-check"})


def _stored(store) -> int:
    return store.session.execute(text("SELECT count(*) FROM incidents WHERE source = 'swap-check'")).scalar_one()


def test_swapped_columns_are_refused_against_the_communities(client, tokens, store, tmp_path):
    _activate_parishes(client, tokens["gis"])
    response = _import(client, tokens["analyst"], _calls(tmp_path, swapped=True))
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "look swapped" in message and "40 of 40 rows fall outside every community" in message
    assert _stored(store) == 0


def test_swapped_columns_are_refused_against_the_service_area(app, client, tokens, store, tmp_path):
    app.state.settings = app.state.settings.model_copy(update={"service_area": (-62.9, 17.0, -62.5, 17.5)})
    response = _import(client, tokens["analyst"], _calls(tmp_path, swapped=True))
    assert response.status_code == 422, response.text
    assert "outside the service area" in response.json()["error"]["message"]
    assert _stored(store) == 0


def test_a_few_stray_points_still_import_and_are_reported(client, tokens, store, tmp_path):
    _activate_parishes(client, tokens["gis"])
    response = _import(client, tokens["analyst"], _calls(tmp_path, swapped=False, strays=5))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["inserted"] == 45
    assert body["outside_communities"] >= 5
