"""GIS files (GeoPackage, zipped Shapefile, KML) from the API, reopened with GDAL (pyogrio): the right
features, CRS, field names and values; each tier's content; the README; the audit; bad names refused."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
import zipfile

import numpy as np
import pyogrio
import pytest

from app.formats import About, Feature, formatter
from app.formats.shapefile import short_field_names
from app.services.accounts import create_user_with_token
from spatial.kinds import kind_named
from tests.conftest import auth
from tests.test_analyses_api import _activate_parishes, _import_points, _random_background, _run

KIND = kind_named("hotspot")
SUFFIX = {"gpkg": "gpkg", "shp": "zip", "shapefile": "zip", "kml": "kml"}


@pytest.fixture
def world(client, tokens, store, tmp_path):
    _activate_parishes(client, tokens["gis"])
    _random_background(store, tmp_path, seed=21, n=700)
    rng = np.random.default_rng(4)  # a dense cluster, so that some shared cells reach k
    _import_points(store, tmp_path, rng.normal(17.30, 0.004, 300), rng.normal(-62.73, 0.004, 300), "cluster")
    police = _run(client, tokens["analyst"], resolution=9, permutations=99, seed=5)
    shared = _run(client, tokens["analyst"], resolution=8, permutations=99, seed=5, audience="shared")
    assert police["status"] == shared["status"] == "completed"
    communities = client.get("/api/v1/communities", headers=auth(tokens["analyst"])).json()["communities"]
    scope = max(communities, key=lambda c: c["incidents"])["name"]  # where the cluster is
    partner = create_user_with_token(store, "export-partner", "partner", communities=[scope])
    return {"police": police["id"], "shared": shared["id"], "tokens": {**tokens, "partner": partner},
            "scope": scope, "communities": communities}


def _download(client, tmp_path, url, token, fmt, **params):
    response = client.get(url, headers=auth(token), params={"format": fmt, **params})
    assert response.status_code == 200, response.text
    path = tmp_path / f"{fmt}-{abs(hash((url, token)))}.{SUFFIX[fmt]}"
    path.write_bytes(response.content)
    return response, path


def _layer(path, fmt, name):
    """The path GDAL opens for the layer, and the layer's name in it."""
    if fmt in ("shp", "shapefile"):
        return f"/vsizip/{path}/{name}.shp", name
    return str(path), (name.replace("-", "_") if fmt == "kml" else name)


def _csv_cells(client, run_id, token):
    text = client.get(f"/api/v1/analyses/{run_id}/cells", headers=auth(token), params={"format": "csv"}).text
    return {row["cell"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}


@pytest.mark.parametrize("fmt", ["gpkg", "shapefile", "kml"])
def test_police_cells_reopen_with_gdal_with_every_field(client, world, tmp_path, fmt):
    run_id, token = world["police"], world["tokens"]["analyst"]
    response, path = _download(client, tmp_path, f"/api/v1/analyses/{run_id}/cells", token, fmt)
    stem = f"hotspot-run-{run_id}-cells"
    assert response.headers["content-disposition"] == f'attachment; filename="{stem}.{SUFFIX[fmt]}"'
    source, layer = _layer(path, fmt, stem)
    info = pyogrio.read_info(source, layer=layer)
    expected = _csv_cells(client, run_id, token)
    assert info["features"] == len(expected) > 30
    assert info["crs"] == "EPSG:4326"
    names = short_field_names(KIND.csv_columns) if fmt == "shapefile" else {c: c for c in KIND.csv_columns}
    assert [n for n in info["fields"] if n in names.values()] == [names[c] for c in KIND.csv_columns]
    frame = pyogrio.read_dataframe(source, layer=layer)
    frame = frame.rename(columns={short: full for full, short in names.items()}).set_index("cell")
    assert set(frame.index) == set(expected)
    for cell, row in list(expected.items())[:200]:
        found = frame.loc[cell]
        assert int(found["incidents"]) == int(row["incidents"]) and int(found["gi_bin"]) == int(row["gi_bin"])
        assert found["gi_z"] == pytest.approx(float(row["gi_z"]), abs=1e-9)
        assert found["lisa_quadrant"] == (int(row["lisa_quadrant"]) if row["lisa_quadrant"] else found["lisa_quadrant"])
        # the hexagon is the cell's: its centre is the centre the CSV gives
        centre = found.geometry.centroid
        assert (centre.y, centre.x) == pytest.approx((float(row["centre_lat"]), float(row["centre_lon"])), abs=1e-6)


def test_readme_of_each_format_has_provenance_and_tier(client, world, tmp_path):
    run_id, token = world["police"], world["tokens"]["analyst"]
    url = f"/api/v1/analyses/{run_id}/cells"
    _, gpkg = _download(client, tmp_path, url, token, "gpkg")
    assert sorted(name for name, _ in pyogrio.list_layers(gpkg)) == sorted([f"hotspot-run-{run_id}-cells", "readme"])
    readme = pyogrio.read_dataframe(gpkg, layer="readme", read_geometry=False).set_index("topic")["text"]
    assert f"Hot spots of volume, run {run_id} · H3 resolution 9" in readme["provenance"]
    assert readme["privacy"].startswith("Police tier (analyst)") and "EPSG:4326" in readme["coordinates"]

    _, shp = _download(client, tmp_path, url, token, "shp")
    with zipfile.ZipFile(shp) as archive:
        stem = f"hotspot-run-{run_id}-cells"
        assert sorted(archive.namelist()) == sorted(
            ["README.txt"] + [f"{stem}.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")])
        assert archive.read(f"{stem}.cpg").decode().strip() == "UTF-8"
        assert "WGS" in archive.read(f"{stem}.prj").decode()
        text = archive.read("README.txt").decode("utf-8")
    assert f"Provenance: Hot spots of volume, run {run_id} · H3 resolution 9" in text and "Privacy: Police tier" in text
    assert "  lisa_quadr  lisa_quadrant" in text  # the 10-character mapping, as README.txt gives it

    _, kml = _download(client, tmp_path, url, token, "kml")
    document = ElementTree.parse(kml).getroot()[0]
    namespace = "{http://www.opengis.net/kml/2.2}"
    assert document.tag == f"{namespace}Document"
    description = document.find(f"{namespace}description").text
    assert f"Hot spots of volume, run {run_id}" in description and "Privacy: Police tier" in description


@pytest.mark.parametrize("role", ["viewer", "partner"])
@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_shared_cells_hold_no_hidden_count_and_no_statistic(client, world, tmp_path, settings, role, fmt):
    run_id = world["shared"]
    url = f"/api/v1/analyses/{run_id}/cells"
    _, police_path = _download(client, tmp_path, url, world["tokens"]["analyst"], "gpkg")
    police = pyogrio.read_dataframe(police_path, layer=f"hotspot-run-{run_id}-cells").set_index("cell")
    _, path = _download(client, tmp_path, url, world["tokens"][role], fmt)
    source, layer = _layer(path, fmt, f"hotspot-run-{run_id}-cells")
    names = short_field_names(KIND.published_csv_columns) if fmt == "shp" else {
        c: c for c in KIND.published_csv_columns}
    frame = pyogrio.read_dataframe(source, layer=layer)
    assert list(frame.columns) == [names[c] for c in KIND.published_csv_columns] + ["geometry"]
    frame = frame.rename(columns={short: full for full, short in names.items()}).set_index("cell")
    k = max(settings.privacy_min_count, 3)
    assert not {"gi_z", "gi_p", "gi_p_fdr", "lisa_i"} & set(frame.columns)
    if role == "partner":
        assert set(frame["community"]) == {world["scope"]}
    else:
        assert len(frame) == len(police)
    hidden = frame["incidents"].isna()
    assert hidden.any() and (~hidden).any()  # the run has both, so both rules are checked
    assert (frame["incidents"][~hidden] >= k).all()
    assert (frame["suppressed"] == hidden).all()
    assert (police.loc[frame.index[hidden], "incidents"] < k).all()
    assert (frame["incidents"][~hidden] == police.loc[frame.index[~hidden], "incidents"]).all()
    readme = (pyogrio.read_dataframe(source, layer="readme", read_geometry=False).set_index("topic")["text"]
              ["privacy"] if fmt == "gpkg" else zipfile.ZipFile(path).read("README.txt").decode())
    assert f"Shared tier ({role})" in readme and f"a count under {k} is hidden" in readme
    assert "total not published" in (readme if fmt == "shp" else pyogrio.read_dataframe(
        source, layer="readme", read_geometry=False).set_index("topic")["text"]["provenance"])


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "kml", "geojson", "csv"])
def test_communities_with_their_figures_for_police_and_partner(client, world, tmp_path, settings, fmt):
    k = max(settings.privacy_min_count, 3)
    police_figures = {c["name"]: c for c in world["communities"]}
    for role in ("analyst", "partner"):
        response = client.get("/api/v1/communities", headers=auth(world["tokens"][role]), params={"format": fmt})
        assert response.status_code == 200, response.text
        if fmt in ("geojson", "csv"):
            continue
        path = tmp_path / f"{role}.{SUFFIX[fmt]}"
        path.write_bytes(response.content)
        source, layer = _layer(path, fmt, "communities")
        frame = pyogrio.read_dataframe(source, layer=layer)
        if fmt == "kml":  # a field called name is each placemark's <name>, which GDAL reads as Name
            frame = frame.drop(columns=["name"], errors="ignore").rename(columns={"Name": "name"})
        assert pyogrio.read_info(source, layer=layer)["crs"] == "EPSG:4326"
        if role == "analyst":
            assert len(frame) == len(police_figures)
            assert all(int(r["incidents"]) == police_figures[r["name"]]["incidents"] for _, r in frame.iterrows())
        else:
            assert list(frame["name"]) == [world["scope"]]
            shown = frame["incidents"].iloc[0]
            assert shown != shown or shown >= k  # NaN (hidden) or at least k
        assert frame.geometry.notna().all() and frame.geometry.iloc[0].geom_type in ("Polygon", "MultiPolygon")
    body = client.get("/api/v1/communities", headers=auth(world["tokens"]["partner"]), params={"format": "csv"}).text
    assert body.splitlines()[0] == "id,name,code,population,area_km2,incidents,suppressed"


def test_incidents_file_for_analysts_only(client, world, tmp_path, store):
    from app.store.incidents import IncidentFilter

    response, path = _download(client, tmp_path, "/api/v1/incidents", world["tokens"]["analyst"], "gpkg")
    info = pyogrio.read_info(path, layer="incidents")
    assert info["features"] == store.incidents.count_incidents(IncidentFilter()) == 1000
    assert info["geometry_type"] == "Point" and info["crs"] == "EPSG:4326"
    assert list(info["fields"]) == ["id", "source", "external_id", "occurred_at", "reported_at", "category",
                                    "description", "community_id", "h3_cell", "import_id"]
    frame = pyogrio.read_dataframe(path, layer="incidents").set_index("id")
    page = client.get("/api/v1/incidents", headers=auth(world["tokens"]["analyst"]), params={"limit": 50}).json()
    for feature in page["features"]:
        found = frame.loc[feature["id"]]
        assert [found.geometry.x, found.geometry.y] == pytest.approx(feature["geometry"]["coordinates"], abs=1e-9)
        assert found["occurred_at"] == feature["properties"]["occurred_at"]
        assert found["h3_cell"] == feature["properties"]["h3_cell"]
    for role in ("viewer", "partner"):
        refused = client.get("/api/v1/incidents", headers=auth(world["tokens"][role]), params={"format": "gpkg"})
        assert refused.status_code == 403


def test_downloads_are_audited(client, world, tmp_path):
    token = world["tokens"]["partner"]
    _download(client, tmp_path, f"/api/v1/analyses/{world['shared']}/cells", token, "kml")
    _download(client, tmp_path, "/api/v1/communities", token, "shp")
    _download(client, tmp_path, "/api/v1/incidents", world["tokens"]["analyst"], "gpkg")
    entries = client.get("/api/v1/audit", headers=auth(world["tokens"]["admin"]), params={"limit": 50}).json()
    actions = [(e["action"], e["target"]) for e in entries["entries"]]
    assert ("export.cells", str(world["shared"])) in actions
    assert ("export.communities", "/api/v1/communities") in actions
    assert ("export.incidents", "/api/v1/incidents") in actions


def test_an_unknown_format_is_refused_in_words(client, world):
    for url in (f"/api/v1/analyses/{world['police']}/cells", "/api/v1/communities", "/api/v1/incidents"):
        response = client.get(url, headers=auth(world["tokens"]["analyst"]), params={"format": "dwg"})
        assert response.status_code == 422
        text = response.text
        assert "format" in text and "'gpkg'" in text and "'shapefile'" in text


def test_short_field_names_follow_the_documented_rule():
    columns = ["cell", "lisa_quadrant", "incidents_per_km2", "incidents_in_hot_cells", "Incidents_", "centre_lat"]
    names = short_field_names(columns)
    assert names == {"cell": "cell", "lisa_quadrant": "lisa_quadr", "incidents_per_km2": "incidents_",
                     "incidents_in_hot_cells": "incident_1", "Incidents_": "Incident_2", "centre_lat": "centre_lat"}
    assert all(len(n) <= 10 for n in names.values())
    assert short_field_names(columns) == names  # stable


def test_a_column_empty_in_the_first_batches_keeps_its_type(tmp_path):
    """Every count hidden in the first 25,000 cells: the field is still an integer, not text."""
    import shapely

    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    rows = (Feature({"n": None if i < 25_000 else i, "label": None}, square) for i in range(25_010))
    about = About("cells", "test", "p", "q")
    path = tmp_path / "cells.gpkg"
    path.write_bytes(b"".join(formatter("gpkg").write(rows, ["n", "label"], about=about)))
    info = pyogrio.read_info(path, layer="cells")
    assert info["features"] == 25_010 and list(info["dtypes"]) == ["int64", "object"]
    frame = pyogrio.read_dataframe(path, layer="cells")
    assert frame["n"].isna().sum() == 25_000 and frame["n"].iloc[-1] == 25_009


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "kml"])
def test_an_empty_export_still_opens(tmp_path, fmt):
    """A filter that matches nothing gives a file with the fields and no feature, not an error."""
    about = About("no-cells", "nothing matched", "p", "q")
    path = tmp_path / f"empty.{SUFFIX[fmt]}"
    path.write_bytes(b"".join(formatter(fmt).write(iter([]), ["cell", "incidents"], about=about)))
    source, layer = _layer(path, fmt, "no-cells")
    info = pyogrio.read_info(source, layer=layer)
    assert info["features"] == 0 and info["crs"] == "EPSG:4326"
    if fmt != "kml":  # GDAL's KML driver writes a layer's schema with its first placemark only
        assert {"cell", "incidents"} <= set(info["fields"])


def test_a_text_too_long_for_a_shapefile_field_is_refused_not_cut_short():
    """A dBASE text field holds 254 bytes; an emerging run's series over ~85 steps is longer. GDAL would cut
    it with a warning only, so the Shapefile export refuses and names the GeoPackage instead."""
    from app.errors import BadRequest
    from app.formats import FORMATS
    from app.formats.base import About, Feature

    about = About(name="emerging-run-1-cells", title="cells")
    point = {"type": "Point", "coordinates": [-62.72, 17.3]}
    fits = [Feature({"cell": "a", "step_classes": ",".join(["-3"] * 80)}, point)]  # 239 characters
    assert b"".join(FORMATS["shp"].write(fits, ["cell", "step_classes"], about=about))
    too_long = [Feature({"cell": "a", "step_classes": ",".join(["-3"] * 90)}, point)]  # 269 characters
    with pytest.raises(BadRequest, match=r"step_classes.*\?format=gpkg"):
        b"".join(FORMATS["shp"].write(too_long, ["cell", "step_classes"], about=about))
    assert b"".join(FORMATS["gpkg"].write(too_long, ["cell", "step_classes"], about=about))
