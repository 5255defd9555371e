"""Turn a received incident file into something the reader can open (unpacking zipped Shapefiles)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spatial.errors import InvalidUpload
from spatial.uploads import UploadLimits, check_upload_size, safe_extract_zip, upload_workspace


@contextmanager
def incident_file(path: Path, max_bytes: int) -> Iterator[Path]:
    """Yield a path the incident reader can open; a .zip is checked and unpacked first."""
    limits = UploadLimits(max_upload_bytes=max_bytes)
    check_upload_size(path, limits)
    if path.suffix.lower() != ".zip":
        yield path
        return
    with upload_workspace(prefix="hotspots-incidents-") as workdir:
        entries = safe_extract_zip(path, workdir, limits)
        shapefiles = [e.path for e in entries if e.path.suffix.lower() == ".shp"]
        if len(shapefiles) != 1:
            raise InvalidUpload(
                "The .zip file must hold exactly one Shapefile (.shp with its .shx, .dbf and .prj); "
                f"it holds {len(shapefiles)}."
            )
        yield shapefiles[0]
