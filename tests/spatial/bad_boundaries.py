"""A corpus of bad boundary files, generated on the fly (nothing binary is committed).

Each ``make_*`` function writes one file into ``directory`` and returns
``(path, original_name)``. ``build_corpus`` writes them all, e.g. for manual
checks: ``python -m tests.spatial.bad_boundaries /tmp/bad``.
"""

from __future__ import annotations

import json
import shutil
import stat
import struct
import sys
import zipfile
from pathlib import Path

# shared/ sits beside the project root (see shared/data/README.md).
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SF_SHAPEFILE = DATA / "sf_2012" / "shapefiles" / "SFCrime_blocks"
KNA = DATA / "kna_parishes" / "geoBoundaries-KNA-ADM1_simplified.geojson"

SQUARE = [[[0.0, 0.0], [0.01, 0.0], [0.01, 0.01], [0.0, 0.01], [0.0, 0.0]]]
BOWTIE = [[[0.02, 0.0], [0.03, 0.01], [0.03, 0.0], [0.02, 0.01], [0.02, 0.0]]]

KML_WITH_ENTITY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE kml [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&secret;</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 1,0 1,1 0,1 0,0</coordinates>
</LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>
"""


def feature_collection(features: list[tuple[dict, dict | None]], crs: str | None = None) -> str:
    """GeoJSON text from (properties, geometry) pairs."""
    collection: dict = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(collection)


def _write(directory: Path, name: str, content: str | bytes) -> tuple[Path, str]:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path, name


# --- archives -----------------------------------------------------------------

def make_ratio_bomb(directory: Path, megabytes: int = 50) -> tuple[Path, str]:
    """50 MB of zeros deflated to ~50 KB: a compression ratio near 1000."""
    path = directory / "bomb.zip"
    zeros = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("parishes.shp", "w") as entry:
            for _ in range(megabytes):
                entry.write(zeros)
    return path, "parishes.zip"


def make_declared_size_bomb(directory: Path) -> tuple[Path, str]:
    """A tiny archive whose headers claim one entry unpacks to ~3.9 GB."""
    path = directory / "declared.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("parishes.shp", b"x" * 1000)
    _patch_sizes(path, 0xF0000000)
    return path, "parishes.zip"


def make_lying_size(directory: Path) -> tuple[Path, str]:
    """An archive whose headers claim 10 bytes for an entry that really holds 2 MB."""
    path = directory / "lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("parishes.geojson", b" " * (2 * 1024 * 1024))
    _patch_sizes(path, 10)
    return path, "parishes.zip"


def _patch_sizes(path: Path, size: int) -> None:
    """Overwrite the uncompressed size in the local and central headers."""
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, size)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


def make_traversal(directory: Path, entry_name: str = "../../evil.shp") -> tuple[Path, str]:
    path = directory / "traversal.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("parishes.prj", "GEOGCS[]")
        bundle.writestr(zipfile.ZipInfo(entry_name), b"not really a shapefile")
    return path, "parishes.zip"


def make_symlink_entry(directory: Path) -> tuple[Path, str]:
    path = directory / "symlink.zip"
    link = zipfile.ZipInfo("parishes.dbf")
    link.create_system = 3  # Unix, so the mode bits count
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(link, "/etc/passwd")
    return path, "parishes.zip"


def make_too_many_entries(directory: Path, count: int = 1001) -> tuple[Path, str]:
    path = directory / "many.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for number in range(count):
            bundle.writestr(f"tile_{number}.txt", b"")
    return path, "parishes.zip"


# --- shapefiles ---------------------------------------------------------------

def zip_shapefile(directory: Path, stem: Path, parts=(".shp", ".shx", ".dbf", ".prj"), name: str = "plots.zip",
                  replace: dict[str, bytes] | None = None) -> tuple[Path, str]:
    """Zip the parts of a shapefile, optionally replacing some parts' bytes."""
    path = directory / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for suffix in parts:
            content = (replace or {}).get(suffix)
            if content is None:
                content = stem.with_suffix(suffix).read_bytes()
            bundle.writestr(stem.name + suffix, content)
    return path, name


def make_shapefile_without_prj(directory: Path) -> tuple[Path, str]:
    return zip_shapefile(directory, SF_SHAPEFILE, (".shp", ".shx", ".dbf"), "noprj.zip")


def make_corrupt_dbf(directory: Path) -> tuple[Path, str]:
    garbage = b"This is not a dBASE file, it was overwritten by a text editor.\n" * 20
    return zip_shapefile(directory, SF_SHAPEFILE, name="corrupt_dbf.zip", replace={".dbf": garbage})


def make_truncated_dbf(directory: Path) -> tuple[Path, str]:
    dbf = SF_SHAPEFILE.with_suffix(".dbf").read_bytes()[:5000]
    return zip_shapefile(directory, SF_SHAPEFILE, name="truncated_dbf.zip", replace={".dbf": dbf})


def make_shapefile_without_shx(directory: Path) -> tuple[Path, str]:
    return zip_shapefile(directory, SF_SHAPEFILE, (".shp", ".dbf", ".prj"), "noshx.zip")


# --- geometry and content problems ----------------------------------------------

def make_bowties(directory: Path) -> tuple[Path, str]:
    """Two communities: a valid square and a self-intersecting bow-tie."""
    text = feature_collection([
        ({"name": "Square"}, {"type": "Polygon", "coordinates": SQUARE}),
        ({"name": "Bow tie"}, {"type": "Polygon", "coordinates": BOWTIE}),
    ])
    return _write(directory, "bowties.geojson", text)


def make_points(directory: Path) -> tuple[Path, str]:
    text = feature_collection([
        ({"name": f"Station {n}"}, {"type": "Point", "coordinates": [0.001 * n, 0.002]}) for n in range(3)
    ])
    return _write(directory, "stations.geojson", text)


def make_mixed_points_and_polygons(directory: Path) -> tuple[Path, str]:
    text = feature_collection([
        ({"name": "Square"}, {"type": "Polygon", "coordinates": SQUARE}),
        ({"name": "Police station"}, {"type": "Point", "coordinates": [0.005, 0.005]}),
        ({"name": "Nothing"}, None),
    ])
    return _write(directory, "mixed.geojson", text)


def make_empty_file(directory: Path) -> tuple[Path, str]:
    return _write(directory, "empty.geojson", b"")


def make_zero_features(directory: Path) -> tuple[Path, str]:
    return _write(directory, "none.geojson", feature_collection([]))


def make_zip_named_geojson(directory: Path) -> tuple[Path, str]:
    path, _ = zip_shapefile(directory, SF_SHAPEFILE, name="zip_as_geojson.bin")
    return path, "plots.geojson"


def make_text_named_gpkg(directory: Path) -> tuple[Path, str]:
    return _write(directory, "fake.gpkg", "name,code\nDowntown,1\n")


def make_projected_geojson_without_crs(directory: Path) -> tuple[Path, str]:
    """UTM metres written into a GeoJSON that claims nothing (so read as lon/lat)."""
    ring = [[500000, 1900000], [501000, 1900000], [501000, 1901000], [500000, 1901000], [500000, 1900000]]
    text = feature_collection([({"name": "Block"}, {"type": "Polygon", "coordinates": [ring]})])
    return _write(directory, "utm_no_crs.geojson", text)


def make_kml_with_entity(directory: Path) -> tuple[Path, str]:
    return _write(directory, "entity.kml", KML_WITH_ENTITY)


def make_utf16_kml_with_doctype(directory: Path) -> tuple[Path, str]:
    return _write(directory, "utf16.kml", KML_WITH_ENTITY.replace("UTF-8", "UTF-16").encode("utf-16"))


def make_kmz_with_entity(directory: Path) -> tuple[Path, str]:
    path = directory / "entity.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("doc.kml", KML_WITH_ENTITY)
    return path, "entity.kmz"


BAD_FILES = {
    name.removeprefix("make_"): function
    for name, function in globals().items()
    if name.startswith("make_") and callable(function)
}


def build_corpus(directory: Path) -> dict[str, tuple[Path, str]]:
    """Write every bad file into ``directory``; return {case: (path, original_name)}."""
    directory.mkdir(parents=True, exist_ok=True)
    corpus = {}
    for case, make in BAD_FILES.items():
        case_directory = directory / case
        shutil.rmtree(case_directory, ignore_errors=True)
        case_directory.mkdir()
        corpus[case] = make(case_directory)
    return corpus


if __name__ == "__main__":
    for case, (path, name) in build_corpus(Path(sys.argv[1])).items():
        print(f"{case:32} {path}  (uploaded as {name})")
