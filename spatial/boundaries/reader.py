"""``read_boundary_file``: from an uploaded file to checked communities in EPSG:4326."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial.boundaries import fields as field_rules
from spatial.boundaries.geometry import (
    LONLAT,
    clean_geometry,
    equal_area_crs,
    find_overlaps_and_gaps,
    lonlat_extent_ok,
    transform_geometries,
)
from spatial.boundaries.models import (
    SLIVER_AREA_M2,
    BoundaryReadResult,
    Community,
    DetectedFields,
    DuplicateName,
    FeatureProblem,
    OutsideServiceArea,
    ValidationReport,
)
from spatial.boundaries.sources import SHAPEFILE, BoundarySource, prepare_source, reader_call
from spatial.errors import InvalidUpload
from spatial.file_guard import check_feature_count, check_vertex_count
from spatial.uploads import UploadLimits, upload_workspace

NO_PRJ_MESSAGE = (
    "The shapefile has no .prj file, so its coordinate system is unknown. Export it again with "
    "the .prj, or give the coordinate system (e.g. EPSG:32620) explicitly."
)


def read_boundary_file(
    path: Path,
    *,
    original_name: str,
    layer: str | None = None,
    name_field: str | None = None,
    code_field: str | None = None,
    population_field: str | None = None,
    source_crs: str | None = None,
    service_area: tuple[float, float, float, float] | None = None,
    limits: UploadLimits = UploadLimits(),
    sliver_area_m2: float = SLIVER_AREA_M2,
) -> BoundaryReadResult:
    """Read community boundaries from an uploaded GeoJSON, zipped Shapefile, GeoPackage, KML or KMZ.

    Parameters
    ----------
    path : the uploaded file on disk (its own name does not matter).
    original_name : the name the user gave the file; its extension must match the content.
    layer : the layer to read, needed when the file has several.
    name_field, code_field, population_field : override the detected fields.
    source_crs : the coordinate system of the data (e.g. ``"EPSG:32620"``); overrides the
        file's own, and is required for a shapefile without a ``.prj``.
    service_area : ``(min_lon, min_lat, max_lon, max_lat)``; communities outside it are warned about.
    limits : size and archive limits.
    sliver_area_m2 : overlaps and gaps smaller than this are counted, not listed.

    Returns
    -------
    BoundaryReadResult with the communities as MultiPolygons in EPSG:4326 and a validation report.

    Raises
    ------
    InvalidUpload (or its subclass UploadTooLarge) with a message for the uploader.
    """
    if service_area is not None:
        _check_service_area(service_area)
    with upload_workspace(prefix="boundaries-") as workspace:
        source = prepare_source(Path(path), original_name, layer, workspace, limits)
        info = reader_call(lambda: pyogrio.read_info(source.path, layer=_layer_arg(source)), source.format)
        crs = _source_crs(source, info.get("crs"), source_crs)
        crs_note = _override_note(info.get("crs"), crs, source_crs)
        check_feature_count(info.get("features"), limits.max_boundary_features, original_name, "boundaries")
        frame = reader_call(
            lambda: pyogrio.read_dataframe(source.path, layer=_layer_arg(source), on_invalid="fix"),
            source.format,
        )
    if len(frame) == 0:
        raise InvalidUpload(
            f"The layer '{source.layer}' in '{original_name}' contains no features, so there are no boundaries to read.",
            {"layer": source.layer},
        )
    check_vertex_count(int(shapely.get_num_coordinates(np.asarray(frame.geometry.values, dtype=object)).sum()),
                       limits.max_boundary_vertices, original_name)
    request = _Request(original_name, name_field, code_field, population_field, service_area, sliver_area_m2)
    result = _build_result(frame, source, crs, request)
    if crs_note:
        result.report.warnings.insert(0, crs_note)
    return result


def _layer_arg(source: BoundarySource) -> str | None:
    # A shapefile is one layer; its "layer" is the .shp chosen in the archive.
    return None if source.format == SHAPEFILE else source.layer


def _check_service_area(bbox: tuple[float, float, float, float]) -> None:
    min_lon, min_lat, max_lon, max_lat = bbox
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError(f"service_area must be (min_lon, min_lat, max_lon, max_lat) in degrees, got {bbox}")


def _source_crs(source: BoundarySource, file_crs: str | None, given: str | None) -> CRS:
    if given is not None:
        try:
            return CRS.from_user_input(given)
        except CRSError:
            raise InvalidUpload(
                f"'{given}' is not a coordinate system that can be recognised. Give it as an EPSG code, "
                "e.g. EPSG:32620.",
                {"source_crs": given},
            ) from None
    if source.format == SHAPEFILE and not source.has_prj:
        raise InvalidUpload(NO_PRJ_MESSAGE, {"reason": "missing_prj"})
    if not file_crs:
        if source.format == SHAPEFILE:
            raise InvalidUpload(NO_PRJ_MESSAGE, {"reason": "unreadable_prj"})
        # GeoJSON and KML are longitude/latitude (CRS84) unless they say otherwise.
        return LONLAT
    return CRS.from_user_input(file_crs)


def _override_note(file_crs: str | None, crs: CRS, given: str | None) -> str | None:
    if given is None or not file_crs:
        return None
    declared = CRS.from_user_input(file_crs)
    if declared.equals(crs, ignore_axis_order=True):
        return None
    return (f"The file says its coordinate system is {declared.name}, but {crs.name} was used as requested.")


def _crs_text(crs: CRS) -> str:
    authority = crs.to_authority(min_confidence=90)
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


@dataclass(frozen=True)
class _Request:
    """What the uploader asked for, beyond the file itself."""

    original_name: str
    name_field: str | None
    code_field: str | None
    population_field: str | None
    service_area: tuple[float, float, float, float] | None
    sliver_area_m2: float


def _build_result(frame, source: BoundarySource, crs: CRS, request: _Request) -> BoundaryReadResult:
    fields = _detect_fields(frame, request)
    report = ValidationReport(features_read=len(frame), sliver_threshold_m2=request.sliver_area_m2)
    if source.has_prj is False:
        report.warnings.append(f"The shapefile has no .prj file; its coordinates were read as {_crs_text(crs)}.")
    geometries = transform_geometries(np.asarray(frame.geometry.values, dtype=object), crs, LONLAT)
    if not lonlat_extent_ok(geometries):
        raise InvalidUpload(
            "The coordinates in the file are not longitudes and latitudes once read with the coordinate "
            f"system {crs.name}, so the coordinate system is probably wrong or missing. Give the right one "
            "(e.g. EPSG:32620) explicitly.",
            {"source_crs": _crs_text(crs), "bounds": [float(v) for v in shapely.total_bounds(geometries)]},
        )
    names = _names(frame, fields, report)
    codes = [field_rules.text_value(value) for value in frame[fields.code]] if fields.code else [None] * len(frame)
    populations, unreadable = field_rules.population_values(frame, fields.population)
    if unreadable:
        report.warnings.append(
            f"The population of feature(s) {_numbers(unreadable)} is not a number and was left empty."
        )
    kept = _clean_features(geometries, names, report)
    if not kept:
        raise InvalidUpload(
            f"None of the {len(frame)} features in '{request.original_name}' is a usable community boundary "
            "(see the details for each feature).",
            {"report": report.to_dict()},
        )
    communities = _communities(kept, names, codes, populations, report, request.sliver_area_m2)
    _report_duplicates(communities, report)
    if request.service_area is not None:
        _report_outside(communities, request.service_area, report)
    report.communities_kept = len(communities)
    return BoundaryReadResult(
        communities=communities, fields=fields, source_crs=_crs_text(crs), source_crs_name=crs.name,
        layer=source.layer, format=source.format, report=report,
    )


def _detect_fields(frame, request: _Request) -> DetectedFields:
    available = [column for column in frame.columns if column != "geometry"]
    name = field_rules.choose_field(frame, available, request.name_field, field_rules.NAME_CANDIDATES, "name")
    if name is None:
        raise InvalidUpload(
            f"No field with the community names was found in '{request.original_name}'. Choose the name "
            f"field; the fields in the file are: {', '.join(available) or '(none)'}.",
            {"purpose": "name", "available_fields": available},
        )
    return DetectedFields(
        name=name,
        code=field_rules.choose_field(frame, available, request.code_field, field_rules.CODE_CANDIDATES, "code"),
        population=field_rules.choose_field(
            frame, available, request.population_field, field_rules.POPULATION_CANDIDATES, "population",
            numeric=True,
        ),
        available=available,
    )


def _names(frame, fields: DetectedFields, report: ValidationReport) -> list[str]:
    names, unnamed = [], []
    for row, value in enumerate(frame[fields.name]):
        text = field_rules.text_value(value)
        if text is None:
            unnamed.append(row)
            text = f"Feature {row + 1}"
        names.append(text)
    if unnamed:
        report.warnings.append(
            f"Feature(s) {_numbers(unnamed)} have no name in '{fields.name}' and were named 'Feature N'."
        )
    return names


def _clean_features(geometries, names, report) -> list[tuple[int, object]]:
    kept = []
    for row, geometry in enumerate(geometries):
        cleaned = clean_geometry(geometry)
        if cleaned.geometry is None:
            report.refused.append(FeatureProblem(row + 1, names[row], cleaned.refused_because or "it could not be read"))
            continue
        if cleaned.repaired_because:
            report.repaired.append(FeatureProblem(row + 1, names[row], cleaned.repaired_because))
        if cleaned.dropped_parts:
            report.warnings.append(f"Feature {row + 1} ({names[row]}): {cleaned.dropped_parts}.")
        kept.append((row, cleaned.geometry))
    return kept


def _communities(kept, names, codes, populations, report, sliver_area_m2) -> list[Community]:
    lonlat_geometries = np.array([geometry for _, geometry in kept], dtype=object)
    area_crs = equal_area_crs(lonlat_geometries)
    area_geometries = transform_geometries(lonlat_geometries, LONLAT, area_crs)
    rows = [row for row, _ in kept]
    try:
        findings = find_overlaps_and_gaps(
            area_geometries, [row + 1 for row in rows], [names[row] for row in rows], area_crs, sliver_area_m2
        )
    except shapely.errors.GEOSException:
        # The boundaries themselves are valid; only the cross-check failed.
        report.warnings.append("Overlaps and gaps between communities could not be checked for this file.")
        findings = None
    if findings is not None:
        _copy_findings(findings, report)
    areas = shapely.area(area_geometries) / 1e6
    return [
        Community(row + 1, names[row], codes[row], populations[row], geometry, float(area))
        for (row, geometry), area in zip(kept, areas)
    ]


def _copy_findings(findings, report: ValidationReport) -> None:
    report.overlaps = findings.overlaps
    report.overlap_slivers = findings.overlap_slivers
    report.overlap_slivers_area_m2 = round(findings.overlap_slivers_area_m2, 3)
    report.gaps = findings.gaps
    report.gap_slivers = findings.gap_slivers
    report.gap_slivers_area_m2 = round(findings.gap_slivers_area_m2, 3)


def _report_duplicates(communities: list[Community], report: ValidationReport) -> None:
    for attribute, target in (("name", report.duplicate_names), ("code", report.duplicate_codes)):
        groups: dict[str, list[Community]] = defaultdict(list)
        for community in communities:
            value = getattr(community, attribute)
            if value is not None:
                groups[value.casefold()].append(community)
        for group in groups.values():
            if len(group) > 1:
                target.append(DuplicateName(getattr(group[0], attribute), [c.feature_number for c in group]))


def _report_outside(communities, service_area, report: ValidationReport) -> None:
    box = shapely.box(*service_area)
    for community in communities:
        if not community.geometry.intersects(box):
            report.outside_service_area.append(OutsideServiceArea(community.feature_number, community.name, True))
        elif not community.geometry.within(box):
            report.outside_service_area.append(OutsideServiceArea(community.feature_number, community.name, False))
    outside = report.outside_service_area
    if not outside:
        return
    if len(outside) == len(communities) and all(item.entirely for item in outside):
        report.warnings.append(
            "None of the communities lies in the service area: check that the coordinate system is right."
        )
    else:
        report.warnings.append(f"{len(outside)} of {len(communities)} communities lie wholly or partly "
                               "outside the service area.")


def _numbers(rows: list[int], shown: int = 20) -> str:
    text = ", ".join(str(row + 1) for row in rows[:shown])
    return text + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
