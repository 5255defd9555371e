"""Upload and activate community boundary sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import NotFound
from app.store.backends import Store
from spatial.boundaries import UploadLimits, read_boundary_file


@dataclass(frozen=True)
class BoundaryOptions:
    """Choices the uploader can make; anything left ``None`` is detected."""

    name: str | None = None
    layer: str | None = None
    name_field: str | None = None
    code_field: str | None = None
    population_field: str | None = None
    source_crs: str | None = None
    attribution: str | None = None
    activate: bool = False


def upload_boundary_set(
    store: Store, path: Path, *, original_name: str, options: BoundaryOptions,
    service_area: tuple[float, float, float, float] | None, max_bytes: int, user_id: int | None = None,
) -> dict[str, Any]:
    """Read, check and store a boundary file as a new set; activate it when asked.

    A refused file raises ``InvalidUpload`` before anything is written.
    """
    result = read_boundary_file(
        path, original_name=original_name, layer=options.layer, name_field=options.name_field,
        code_field=options.code_field, population_field=options.population_field,
        source_crs=options.source_crs, service_area=service_area,
        limits=UploadLimits(max_upload_bytes=max_bytes),
    )
    report = {
        **result.report.to_dict(),
        "format": result.format,
        "layer": result.layer,
        "fields": result.fields.to_dict(),
        "source_crs_name": result.source_crs_name,
    }
    set_id = store.boundaries.create_boundary_set(
        name=options.name or Path(original_name).stem, filename=original_name,
        source_crs=result.source_crs, attribution=options.attribution, user_id=user_id,
        report=report, communities=result.communities,
    )
    moved = store.boundaries.activate_boundary_set(set_id) if options.activate else None
    store.session.commit()
    return {"id": set_id, "communities": len(result.communities), "active": options.activate,
            "incidents_reassigned": moved, "report": report}


def activate(store: Store, set_id: int) -> dict[str, Any]:
    if not store.boundaries.boundary_set_exists(set_id):
        raise NotFound(f"There is no boundary set {set_id}.")
    moved = store.boundaries.activate_boundary_set(set_id)
    store.session.commit()
    return {"id": set_id, "active": True, "incidents_reassigned": moved}
