"""Turn a received file into something the readers can open (unpacking zipped Shapefiles)."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spatial.errors import InvalidUpload, UploadTooLarge


@contextmanager
def incident_file(path: Path, max_bytes: int) -> Iterator[Path]:
    """Yield a path the incident reader can open; a .zip is unpacked safely first."""
    if path.stat().st_size > max_bytes:
        raise UploadTooLarge(f"The file is larger than the upload limit of {max_bytes // (1024 * 1024)} MB.")
    if path.suffix.lower() != ".zip":
        yield path
        return
    workdir = Path(tempfile.mkdtemp(prefix="hotspots-zip-"))
    try:
        yield _shapefile_in(path, workdir, max_bytes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _shapefile_in(archive: Path, workdir: Path, max_bytes: int) -> Path:
    from spatial.uploads import extract_zip  # safe extraction: size, ratio, traversal checks

    try:
        extracted = extract_zip(archive, workdir, max_bytes=max_bytes)
    except zipfile.BadZipFile as exc:
        raise InvalidUpload("The .zip file is damaged or not a zip archive.") from exc
    shapefiles = [p for p in extracted if p.suffix.lower() == ".shp"]
    if len(shapefiles) != 1:
        raise InvalidUpload(
            "The .zip file must hold exactly one Shapefile (.shp with its .shx, .dbf and .prj); "
            f"it holds {len(shapefiles)}."
        )
    return shapefiles[0]
