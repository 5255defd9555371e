"""A corpus of awkward and hostile incident files, generated on the fly.

Each ``make_*`` writes one file and returns ``(path, expected)``: ``expected`` is
``("refused", fragment of the message)`` or ``("partial", inserted, rejected)``.
Run ``python -m tests.bad_incidents DIR`` to write them all for a manual look.
"""

from __future__ import annotations

import json
import struct
import sys
import zipfile
from pathlib import Path

from tests.spatial.bad_boundaries import make_ratio_bomb, make_traversal

HEADER = "id,latitude,longitude,date,category\n"
GOOD = "{i},17.30{i:02d},-62.72,2024-03-01 10:00,Theft\n"


def _good_rows(n: int, first: int = 0) -> str:
    return "".join(GOOD.format(i=i) for i in range(first, first + n))


def _text(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def make_truncated_csv(d):
    return _text(d, "cut.csv", HEADER + _good_rows(3) + '4,17.31,-62.7,"2024-03-01'), ("refused", "malformed")


def make_semicolon_delimited(d):
    body = (HEADER + _good_rows(3)).replace(",", ";")
    return _text(d, "semicolons.csv", body), ("partial", 3, 0)


def make_tab_delimited(d):
    return _text(d, "tabs.csv", (HEADER + _good_rows(2)).replace(",", "\t")), ("partial", 2, 0)


def make_windows_1252(d):
    body = HEADER + _good_rows(2) + "9,17.3,-62.7,2024-03-01,Agression à main armée\n"
    return _text(d, "latin.csv", body.encode("cp1252")), ("partial", 3, 0)


def make_utf8_bom(d):
    return _text(d, "bom.csv", "\ufeff" + HEADER + _good_rows(2)), ("partial", 2, 0)


def make_utf16(d):
    return _text(d, "unicode.csv", (HEADER + _good_rows(2)).encode("utf-16")), ("partial", 2, 0)


def make_binary_garbage(d):
    return _text(d, "garbage.csv", bytes(range(256)) * 40), ("refused", "binary")


def make_mixed_types(d):
    body = HEADER + _good_rows(2) + "7,north,-62.7,2024-03-01,Theft\n8,17.3,west,2024-03-01,Theft\n"
    return _text(d, "mixed.csv", body), ("partial", 2, 2)


def make_huge_coordinates(d):
    body = HEADER + _good_rows(1) + "5,1e308,-62.7,2024-03-01,Theft\n6,17.3,-1e400,2024-03-01,Theft\n"
    return _text(d, "huge.csv", body), ("partial", 1, 2)


def make_nan_and_inf(d):
    body = HEADER + _good_rows(1) + "5,NaN,-62.7,2024-03-01,Theft\n6,17.3,inf,2024-03-01,Theft\n"
    return _text(d, "nan.csv", body), ("partial", 1, 2)


def make_many_date_formats(d):
    # 03/21 proves month-first; a lone 03/01 would be ambiguous, and refused (make_all_ambiguous_dates).
    dates = ["2024-03-01", "2024-03-01T10:00:00Z", "2024-03-01 10:00:00-04:00", "03/21/2024 10:00 PM",
             "1 March 2024", "March 1, 2024 10:00", "2024/03/01 10:00"]
    body = HEADER + "".join(f'{i},17.30,-62.72,"{d_}",Theft\n' for i, d_ in enumerate(dates))
    return _text(d, "dates.csv", body), ("partial", len(dates), 0)


def make_all_ambiguous_dates(d):
    body = HEADER + "".join(f"{i},17.30,-62.72,0{1 + i % 9}/1{i % 3}/2024,Theft\n" for i in range(12))
    return _text(d, "ambiguous.csv", body), ("refused", "day_first")


def make_mixed_day_and_month_first(d):
    body = HEADER + "1,17.3,-62.7,25/03/2024,Theft\n2,17.3,-62.7,03/25/2024,Theft\n" + _good_rows(2, 3)
    return _text(d, "mixed_orders.csv", body), ("refused", "mixes day-first and month-first")


def make_bad_and_future_dates(d):
    body = HEADER + _good_rows(1) + "5,17.3,-62.7,32/13/2024,Theft\n6,17.3,-62.7,2999-01-01,Theft\n7,17.3,-62.7,,Theft\n"
    return _text(d, "baddates.csv", body), ("partial", 1, 3)


def make_empty(d):
    return _text(d, "empty.csv", b""), ("refused", "empty")


def make_header_only(d):
    return _text(d, "header.csv", HEADER), ("refused", "no incident rows")


def make_blank_lines(d):
    return _text(d, "blank.csv", "\n\n\n   \n"), ("refused", "empty")


def make_no_location_columns(d):
    return _text(d, "nocoords.csv", "id,date,category\n1,2024-01-01,Theft\n"), ("refused", "latitude")


def make_swapped_coordinates(d):
    body = HEADER + "".join(f"{i},-62.72,17.30,2024-03-01,Theft\n" for i in range(3))
    return _text(d, "swapped.csv", body), ("refused", "look swapped")


def make_ragged_rows(d):
    return _text(d, "ragged.csv", HEADER + _good_rows(2) + "3,17.3,-62.7,2024-03-01,Theft,extra,cells\n"), \
        ("refused", "malformed")


def make_null_bytes(d):
    return _text(d, "nulls.csv", (HEADER + _good_rows(2)).encode() + b"\x00\x00\x00"), ("refused", "binary")


def make_invalid_geojson(d):
    return _text(d, "broken.geojson", '{"type": "FeatureCollection", "features": [{"type": '), \
        ("refused", "could not be read")


def make_polygon_geojson(d):
    ring = [[-62.72, 17.3], [-62.71, 17.3], [-62.71, 17.31], [-62.72, 17.3]]
    content = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"date": "2024-01-01"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    return _text(d, "areas.geojson", json.dumps(content)), ("refused", "must be points")


def make_unsupported_extension(d):
    return _text(d, "incidents.kml", "<kml/>"), ("refused", "cannot be imported")


def make_zip_bomb(d):
    return make_ratio_bomb(d)[0], ("refused", "")


def make_zip_traversal(d):
    return make_traversal(d)[0], ("refused", "")


def make_zip_without_shapefile(d):
    path = d / "nothing.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("readme.txt", "no shapefile here")
    return path, ("refused", "exactly one Shapefile")


def make_zip_declaring_a_gigabyte(d):
    """A zip whose central directory claims a 1 GB entry (refused before extracting)."""
    path = d / "gigabyte.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("points.shp", b"x" * 1000)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1 << 30)  # uncompressed size in the central directory
    path.write_bytes(bytes(data))
    return path, ("refused", "")


def make_point_shapefile_without_prj(d):
    import geopandas as gpd
    import shapely

    shp = d / "pts" / "points.shp"
    shp.parent.mkdir()
    frame = gpd.GeoDataFrame({"date": ["2024-01-01"]}, geometry=[shapely.Point(-62.72, 17.3)], crs=None)
    frame.to_file(shp)
    path = d / "points.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for part in shp.parent.iterdir():
            bundle.write(part, part.name)
    return path, ("refused", ".prj")


BAD_INCIDENT_FILES = {
    name.removeprefix("make_"): function
    for name, function in sorted(globals().items())
    if name.startswith("make_") and callable(function) and function.__module__ == __name__
}


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for case, make in BAD_INCIDENT_FILES.items():
        folder = target / case
        folder.mkdir(parents=True, exist_ok=True)
        path, expected = make(folder)
        print(f"{case:32} {path}  expected {expected}")
