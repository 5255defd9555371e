"""Fixtures for the spatial tests: real boundary files from shared/data, and formats made from them."""

from __future__ import annotations

import tempfile
import zipfile

import pyogrio
import pytest

from tests.spatial.bad_boundaries import DATA, KNA, SF_SHAPEFILE, zip_shapefile

CHICAGO = DATA / "chicago" / "Chicago_2020_community_areas.geojson"


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Point tempfile at a fresh directory so tests can check it is left empty."""
    directory = tmp_path / "system-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture(scope="session")
def kna_frame():
    return pyogrio.read_dataframe(KNA)


@pytest.fixture(scope="session")
def made(tmp_path_factory, kna_frame):
    """GeoPackage, KML, KMZ and projected copies of the real files, written once per session."""
    directory = tmp_path_factory.mktemp("made")
    files = {}

    files["kna_gpkg"] = directory / "parishes.gpkg"
    pyogrio.write_dataframe(kna_frame, files["kna_gpkg"], layer="parishes", driver="GPKG")

    files["multi_gpkg"] = directory / "multi.gpkg"
    pyogrio.write_dataframe(kna_frame, files["multi_gpkg"], layer="parishes", driver="GPKG")
    pyogrio.write_dataframe(
        pyogrio.read_dataframe(CHICAGO, columns=["community", "area_num_1"]),
        files["multi_gpkg"], layer="chicago_areas", driver="GPKG", append=True,
    )

    files["utm_gpkg"] = directory / "parishes_utm.gpkg"
    pyogrio.write_dataframe(kna_frame.to_crs(32620), files["utm_gpkg"], layer="parishes_utm", driver="GPKG")

    # GDAL writes the old-style "crs" member for a GeoJSON that is not in lon/lat.
    files["utm_geojson"] = directory / "parishes_utm.geojson"
    pyogrio.write_dataframe(kna_frame.to_crs(32620), files["utm_geojson"], driver="GeoJSON")

    utm_shp = directory / "utm" / "parishes_utm.shp"
    utm_shp.parent.mkdir()
    pyogrio.write_dataframe(kna_frame.to_crs(32620), utm_shp, driver="ESRI Shapefile")
    files["utm_shp_zip"] = zip_shapefile(directory, utm_shp.with_suffix(""), name="parishes_utm.zip")[0]

    # The classic KML driver puts the name field in <name>; LIBKML keeps it as ExtendedData.
    files["kml"] = directory / "parishes.kml"
    pyogrio.write_dataframe(kna_frame, files["kml"], driver="KML", dataset_options={"NameField": "shapeName"})
    files["libkml"] = directory / "parishes_libkml.kml"
    pyogrio.write_dataframe(kna_frame, files["libkml"], driver="LIBKML")
    files["kmz"] = directory / "parishes.kmz"
    with zipfile.ZipFile(files["kmz"], "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(files["kml"], "doc.kml")

    files["sf_zip"] = zip_shapefile(directory, SF_SHAPEFILE, name="SFCrime_blocks.zip")[0]
    return files



# --- the St Kitts and Nevis parishes on an H3 grid (statistics tests) -----------------

NEVIS_PARISHES = {
    "Saint George Gingerland",
    "Saint James Windward",
    "Saint John Figtree",
    "Saint Paul Charlestown",
    "Saint Thomas Lowland",
}


@pytest.fixture(scope="session")
def kna_parishes():
    from spatial.grid import polygons_from_geojson

    polygons, properties = polygons_from_geojson(KNA)
    names = [p["shapeName"] for p in properties]
    return polygons, names


@pytest.fixture(scope="session")
def kna_grid(kna_parishes):
    from spatial.grid import cover_communities

    polygons, _ = kna_parishes
    return cover_communities(polygons, list(range(len(polygons))), 9)


@pytest.fixture(scope="session")
def kna_graph(kna_grid):
    from spatial.weights import h3_neighbours

    return h3_neighbours(kna_grid.cells, k=1)
