"""No 500 from input: NUL bytes, ids over 2^63, times past year 9999, 9 KB values, bad JSON escapes.

Each request is one a clerk, a script or an attacker could send; each must answer 4xx with a message.
"""

from __future__ import annotations

import pytest

from tests.conftest import auth

HUGE = str(2**63)
HUGER = "9" * 30
NUL = "\x00"
NUL_IN_URL = "%00"
BIG = "x" * 9000
FAR = "9999-12-31T23:30:00"

GETS = [
    ("analyst", f"/api/v1/incidents?category=Theft{NUL_IN_URL}"),
    ("analyst", f"/api/v1/incidents?source=a{NUL_IN_URL}b"),
    ("analyst", f"/api/v1/incidents?category={BIG}"),
    ("analyst", f"/api/v1/incidents?community={HUGE}"),
    ("analyst", f"/api/v1/incidents?after={HUGER}"),
    ("analyst", f"/api/v1/incidents?start={FAR}"),
    ("analyst", f"/api/v1/incidents?end={FAR}"),
    ("analyst", f"/api/v1/incidents/imports/{HUGE}"),
    ("viewer", f"/api/v1/analyses/{HUGE}"),
    ("viewer", f"/api/v1/analyses/{HUGER}/cells"),
    ("viewer", f"/api/v1/analyses/{HUGE}/neighbourhoods"),
    ("viewer", f"/api/v1/boundary-sets/{HUGE}"),
    ("viewer", f"/api/v1/communities/{HUGE}"),
    ("viewer", f"/tiles/hotspots.json?run={HUGE}"),
    ("viewer", f"/tiles/hotspots/9/160/229.mvt?run={HUGE}"),
    ("viewer", f"/maps/analyses/{HUGE}"),
    ("viewer", f"/maps/communities/{HUGE}"),
    ("admin", f"/api/v1/audit?action=a{NUL_IN_URL}"),
    ("admin", f"/api/v1/audit?user={BIG}"),
    ("admin", f"/api/v1/audit?before={HUGE}"),
    ("admin", f"/api/v1/audit?start={FAR}"),
]


@pytest.mark.parametrize("role, url", GETS, ids=[u[:60] for _, u in GETS])
def test_odd_query_values_answer_4xx(client, tokens, role, url):
    response = client.get(url, headers=auth(tokens[role]))
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["error"]["message"]


JSON_BODIES = [
    ("analyst", "post", "/api/v1/analyses", {"categories": [f"Theft{NUL}"]}),
    ("analyst", "post", "/api/v1/analyses", {"sources": [BIG]}),
    ("analyst", "post", "/api/v1/analyses", {"communities": [f"a{NUL}"]}),
    ("analyst", "post", "/api/v1/analyses", {"start": FAR}),
    ("analyst", "post", "/api/v1/analyses", {"end": "10000-01-01T00:00:00"}),
    ("admin", "post", "/api/v1/users", {"name": f"Jane{NUL}", "role": "viewer"}),
    ("admin", "post", "/api/v1/users", {"name": BIG, "role": "viewer"}),
    ("admin", "put", f"/api/v1/users/{HUGE}/communities", {"communities": ["a"]}),
    ("admin", "post", f"/api/v1/users/{HUGE}/tokens", None),
    ("admin", "post", f"/api/v1/users/{HUGE}/tokens/revoke", None),
    ("gis", "post", f"/api/v1/boundary-sets/{HUGE}/activate", None),
]


@pytest.mark.parametrize("role, method, url, body", JSON_BODIES, ids=[f"{m} {u[:30]} {str(b)[:30]}" for _, m, u, b in JSON_BODIES])
def test_odd_json_values_answer_4xx(client, tokens, role, method, url, body):
    response = client.request(method, url, headers=auth(tokens[role]), json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["error"]["message"]


def test_scopes_with_nul_answer_4xx(client, tokens, store):
    from app.services.accounts import create_user_with_token

    create_user_with_token(store, "scoped-partner", "partner")
    users = client.get("/api/v1/users", headers=auth(tokens["admin"])).json()["users"]
    partner = next(u for u in users if u["name"] == "scoped-partner")
    for scope in ([f"Saint{NUL}"], [BIG]):
        response = client.put(f"/api/v1/users/{partner['id']}/communities", headers=auth(tokens["admin"]),
                              json={"communities": scope})
        assert 400 <= response.status_code < 500, response.text[:300]


@pytest.mark.parametrize("raw", [b'{"categories": ["\\ud800"]}', b'{"categories": ["\\uZZZZ"]}',
                                 b'{"categories": ["\\udc00x"]}'])
def test_invalid_unicode_escapes_in_json_answer_4xx(client, tokens, raw):
    response = client.post("/api/v1/analyses", headers={**auth(tokens["analyst"]), "Content-Type": "application/json"},
                           content=raw)
    assert 400 <= response.status_code < 500, response.text[:300]


@pytest.mark.parametrize("form", [{"source": f"feed{NUL}"}, {"source": BIG}, {"timezone": f"America/St_Kitts{NUL}"},
                                  {"category_column": f"type{NUL}"}])
def test_odd_import_form_fields_answer_4xx(client, tokens, tmp_path, form):
    path = tmp_path / "calls.csv"
    path.write_text("latitude,longitude,date,type\n17.3,-62.72,2024-03-01,Theft\n")
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": ("calls.csv", handle)}, data=form)
    assert 400 <= response.status_code < 500, response.text[:300]


@pytest.mark.parametrize("form", [{"name": f"Parishes{NUL}"}, {"name": BIG}, {"attribution": f"x{NUL}"},
                                  {"layer": f"a{NUL}"}, {"source_crs": f"EPSG:4326{NUL}"}])
def test_odd_boundary_form_fields_answer_4xx(client, tokens, form):
    from tests.spatial.bad_boundaries import KNA

    with KNA.open("rb") as handle:
        response = client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                               files={"file": ("parishes.geojson", handle)}, data=form)
    assert 400 <= response.status_code < 500, response.text[:300]


def test_rows_with_nul_or_9kb_values_are_rejected_not_fatal(client, tokens, tmp_path, store):
    """Cell values go into indexed columns: a 9 KB id or category is a rejected row with its reason."""
    path = tmp_path / "calls.csv"
    path.write_text("id,latitude,longitude,date,category\n"
                    f"{'9' * 9000},17.3,-62.72,2024-03-01,Theft\n"
                    f"b,17.3,-62.72,2024-03-01,{'C' * 9000}\n"
                    "c,17.3,-62.72,2024-03-01,Theft\n", encoding="utf-8")
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": ("calls.csv", handle)}, data={"source": "long-values"})
    assert response.status_code == 201, response.text[:300]
    body = response.json()
    assert body["inserted"] == 1 and body["rejected"] == 2
    assert all("too long" in row["reason"] for row in body["rejected_rows"])


def test_a_nul_byte_inside_a_csv_cell_is_not_fatal(client, tokens, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(b"id,latitude,longitude,date,category\n"
                     b"a,17.3,-62.72,2024-03-01,The\x00ft\nb,17.3,-62.72,2024-03-01,Theft\n")
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": ("calls.csv", handle)}, data={"source": "nul-cell"})
    assert 200 <= response.status_code < 500, response.text[:300]
