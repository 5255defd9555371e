"""Every route of the OpenAPI schema (plus the browser pages) against every role.

The table below says the least role each operation needs; the test fails when a
route has no entry, so a new route must declare who may use it.
"""

from __future__ import annotations

import re

import pytest

from app.security import ROLE_RANK
from app.services.accounts import create_user_with_token
from tests.conftest import auth
from tests.spatial.bad_boundaries import KNA

ANYONE = None
MINIMUM_ROLE = {
    ("get", "/healthz"): ANYONE,
    ("get", "/readyz"): ANYONE,
    ("post", "/api/v1/incidents/imports"): "analyst",
    ("get", "/api/v1/incidents/imports/{import_id}"): "analyst",
    ("delete", "/api/v1/incidents/imports/{import_id}"): "analyst",
    ("get", "/api/v1/incidents"): "analyst",
    ("get", "/api/v1/boundary-sets"): "viewer",
    ("post", "/api/v1/boundary-sets"): "gis",
    ("get", "/api/v1/boundary-sets/{set_id}"): "viewer",
    ("post", "/api/v1/boundary-sets/{set_id}/activate"): "gis",
    ("get", "/api/v1/communities"): "public",
    ("get", "/api/v1/communities/{community_id}"): "public",
    ("get", "/api/v1/communities/{community_id}/trends"): "public",
    ("get", "/api/v1/trends"): "public",
    ("post", "/api/v1/communities/figures"): "gis",
    ("get", "/api/v1/communities/figures"): "viewer",
    ("post", "/api/v1/analyses"): "analyst",
    ("get", "/api/v1/categories"): "analyst",
    ("get", "/api/v1/analyses"): "public",
    ("get", "/api/v1/analyses/{run_id}"): "public",
    ("get", "/api/v1/analyses/{run_id}/cells"): "public",
    ("get", "/api/v1/analyses/{run_id}/neighbourhoods"): "public",
    ("get", "/api/v1/analyses/{run_id}/rates"): "public",
    ("get", "/api/v1/analyses/{run_id}/factors"): "public",
    ("get", "/api/v1/analyses/{run_id}/backtest"): "public",
    ("post", "/api/v1/interventions"): "analyst",
    ("get", "/api/v1/interventions"): "public",
    ("get", "/api/v1/interventions/{intervention_id}"): "public",
    ("get", "/api/v1/interventions/{intervention_id}/evaluation"): "public",
    ("delete", "/api/v1/interventions/{intervention_id}"): "analyst",  # after the routes that read it
    ("get", "/api/v1/compare"): "public",
    ("get", "/api/v1/users"): "admin",
    ("post", "/api/v1/users"): "admin",
    ("post", "/api/v1/users/{user_id}/tokens"): "admin",
    ("post", "/api/v1/users/{user_id}/tokens/revoke"): "admin",
    ("put", "/api/v1/users/{user_id}/communities"): "admin",
    ("get", "/api/v1/audit"): "admin",
    ("get", "/ogc"): "public",
    ("get", "/ogc/conformance"): "public",
    ("get", "/ogc/collections"): "public",
    ("get", "/ogc/collections/{collection_id}"): "public",
    ("get", "/ogc/collections/{collection_id}/items"): "public",
    ("get", "/ogc/collections/{collection_id}/queryables"): "public",
    ("get", "/ogc/collections/{collection_id}/items/{feature_id}"): "public",
    ("get", "/api/v1/sensitive-categories"): "admin",
    ("post", "/api/v1/sensitive-categories/terms"): "admin",
    ("delete", "/api/v1/sensitive-categories/terms/{term}"): "admin",
    ("get", "/tiles/hotspots/{z}/{x}/{y}.mvt"): "public",
    ("get", "/tiles/communities/{z}/{x}/{y}.mvt"): "public",
    ("get", "/tiles/incidents/{z}/{x}/{y}.mvt"): "analyst",
    ("get", "/tiles/hotspots.json"): "public",
    ("get", "/tiles/communities.json"): "public",
    ("get", "/tiles/incidents.json"): "analyst",
}
PAGES = {"/": "public", "/communities/{community_id}": "public", "/maps/analyses/{run_id}": "public",
         "/interventions": "public", "/interventions/{intervention_id}": "public",
         "/analyses/{run_id}/rates": "public",
         "/compare?a={run_id}&b={second_run_id}": "public", "/print/analyses/{run_id}": "public",
         "/print/communities/{community_id}": "public", "/print/analyses/{run_id}?colours=safe": "public",
         "/communities/{community_id}/brief": "public", "/communities/{community_id}/brief.pdf": "public",
         "/analyses": "public", "/analyses/{run_id}": "public", "/analyses/new": "analyst"}
ROLES = ["partner", "viewer", "analyst", "gis", "admin"]


@pytest.fixture
def world(client, store, tokens):
    """Boundaries, a few incidents and a completed shared run, so ids in paths exist."""
    with KNA.open("rb") as handle:
        set_id = client.post("/api/v1/boundary-sets", headers=auth(tokens["gis"]),
                             files={"file": ("kna.geojson", handle)}, data={"activate": "true"}).json()["id"]
    names = [c["name"] for c in client.get("/api/v1/communities", headers=auth(tokens["gis"])).json()["communities"]]
    populations = "parish,population\n" + "".join(f"{name},{1000 + i}\n" for i, name in enumerate(names))  # made up
    assert client.post("/api/v1/communities/figures", headers=auth(tokens["gis"]), data={"kind": "population"},
                       files={"file": ("p.csv", populations.encode())}).status_code == 201
    rows = "id,latitude,longitude,date,category\n" + "".join(
        f"w{i},{17.29 + (i % 7) * 0.004},{-62.73 + (i // 7) * 0.004},2024-02-0{1 + i % 9} 10:00,Theft\n"
        for i in range(60))
    imported = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                           files={"file": ("w.csv", rows.encode())}, data={"source": "world"}).json()
    run = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                      json={"resolution": 8, "permutations": 0, "seed": 1, "audience": "shared"}).json()
    second = client.post("/api/v1/analyses", headers=auth(tokens["analyst"]),
                         json={"resolution": 8, "permutations": 0, "seed": 2, "audience": "shared"}).json()
    community_id = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"][0]["id"]
    intervention = client.post("/api/v1/interventions", headers=auth(tokens["analyst"]), json={
        "name": "Matrix patrols", "starts_on": "2024-02-05", "ends_on": "2024-02-09", "shared": True,
        "target_communities": [community_id]})
    assert intervention.status_code == 201, intervention.text
    tokens = {**tokens, "partner": create_user_with_token(store, "test-partner", "partner")}
    create_user_with_token(store, "matrix-target", "viewer")  # whose tokens the admin routes act on
    target = next(u["id"] for u in client.get("/api/v1/users", headers=auth(tokens["admin"])).json()["users"]
                  if u["name"] == "matrix-target")
    return {
        "import_id": imported["import_id"], "set_id": set_id, "community_id": community_id, "run_id": run["id"],
        "second_run_id": second["id"],
        "user_id": target, "z": 12, "x": 1325, "y": 1861, "tokens": tokens, "term": "no-such-term",
        "collection_id": "communities", "feature_id": community_id,
        "intervention_id": intervention.json()["id"],
    }


def _url(path: str, world: dict) -> str:
    url = re.sub(r"\{(\w+)\}", lambda m: str(world[m.group(1)]), path)
    if path == "/api/v1/compare":
        return url + "?a=%d&b=%d" % (world["run_id"], world["second_run_id"])
    return url + ("?run=%d" % world["run_id"] if path.startswith("/tiles/hotspots") else "")


def _call(client, method: str, url: str, headers: dict):
    if method in ("post", "put"):
        return client.request(method.upper(), url, headers=headers, json={})
    if method == "delete":
        return client.request("DELETE", url, headers=headers)
    return client.get(url, headers=headers, follow_redirects=False)


def test_every_schema_route_is_in_the_table(app):
    operations = {(m, p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert operations == set(MINIMUM_ROLE), operations ^ set(MINIMUM_ROLE)


def test_matrix(client, world):
    failures = []
    for (method, path), minimum in MINIMUM_ROLE.items():
        url = _url(path, world)
        anonymous = _call(client, method, url, {})
        if minimum is None:
            if anonymous.status_code != 200:
                failures.append(f"{method} {path} anonymous: {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            failures.append(f"{method} {path} anonymous: {anonymous.status_code}, expected 401")
        for role in ROLES:
            response = _call(client, method, url, auth(world["tokens"][role]))
            allowed = ROLE_RANK[role] >= ROLE_RANK[minimum]
            if response.status_code >= 500:
                failures.append(f"{method} {path} {role}: {response.status_code}")
            elif allowed and response.status_code in (401, 403):
                failures.append(f"{method} {path} {role}: {response.status_code}, expected access")
            elif not allowed and response.status_code != 403:
                failures.append(f"{method} {path} {role}: {response.status_code}, expected 403")
    assert not failures, "\n".join(failures)


# The incidents collection of /ogc is police data whatever the document or format: analysts and above.
OGC_INCIDENTS = ["/ogc/collections/incidents", "/ogc/collections/incidents/items",
                 "/ogc/collections/incidents/queryables", "/ogc/collections/incidents/items?f=html",
                 "/ogc/collections/incidents/items?datetime=2024-02-01/..&category=Theft"]


def test_ogc_incidents_only_for_analysts_and_above(client, world):
    for url in OGC_INCIDENTS:
        assert client.get(url, follow_redirects=False).status_code in (401, 303), url
        for role in ROLES:
            response = client.get(url, headers=auth(world["tokens"][role]), follow_redirects=False)
            expected = 200 if ROLE_RANK[role] >= ROLE_RANK["analyst"] else 403
            assert response.status_code == expected, (url, role, response.status_code)
    police_only = client.get("/ogc/collections?f=html", headers=auth(world["tokens"]["viewer"])).text
    assert "/ogc/collections/incidents" not in police_only


def test_pages_send_strangers_to_sign_in_and_let_readers_in(client, world):
    for path, minimum in PAGES.items():
        url = _url(path, world)
        stranger = client.get(url, follow_redirects=False)
        assert stranger.status_code == 303 and stranger.headers["location"].startswith("/sign-in"), path
        for role in ROLES:
            response = client.get(url, headers=auth(world["tokens"][role]), follow_redirects=False)
            expected = 200 if ROLE_RANK[role] >= ROLE_RANK[minimum] else 403
            assert response.status_code == expected, (path, role, response.status_code)


def test_public_access_when_enabled_reaches_only_aggregates(app, client, world):
    app.state.settings = app.state.settings.model_copy(update={"public_access": True})
    for (method, path), minimum in MINIMUM_ROLE.items():
        if minimum is None:
            continue
        response = _call(client, method, _url(path, world), {})
        if minimum == "public":
            assert response.status_code not in (401, 403) and response.status_code < 500, (path, response.status_code)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


# The file formats of every export route: the same least role as the route's JSON.
FILE_FORMATS = ("gpkg", "shp", "shapefile", "kml")
EXPORT_ROUTES = ("/api/v1/analyses/{run_id}/cells", "/api/v1/communities", "/api/v1/incidents")


def test_file_formats_follow_the_matrix(client, world):
    failures = []
    for path in EXPORT_ROUTES:
        minimum = MINIMUM_ROLE[("get", path)]
        for fmt in FILE_FORMATS:
            url = _url(path, world) + f"?format={fmt}"
            if client.get(url).status_code != 401:
                failures.append(f"{path} {fmt} anonymous: expected 401")
            for role in ROLES:
                status = client.get(url, headers=auth(world["tokens"][role])).status_code
                expected = 200 if ROLE_RANK[role] >= ROLE_RANK[minimum] else 403
                if status != expected:
                    failures.append(f"{path} {fmt} {role}: {status}, expected {expected}")
    assert not failures, "\n".join(failures)
