"""What reading a boundary file gives back: communities, fields, and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shapely.geometry import MultiPolygon

# Overlaps and gaps smaller than this are digitising noise ("slivers"): they
# are counted in the report but not listed one by one.
SLIVER_AREA_M2 = 1.0


@dataclass(frozen=True)
class Community:
    """One community boundary, in EPSG:4326 (longitude, latitude)."""

    feature_number: int  # 1-based position of the feature in the file
    name: str
    code: str | None
    population: float | None
    geometry: MultiPolygon
    area_km2: float


@dataclass(frozen=True)
class DetectedFields:
    """Which attribute fields were used, and which the file has."""

    name: str
    code: str | None
    population: str | None
    available: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureProblem:
    """A feature that was repaired or refused, and why."""

    feature_number: int
    name: str | None
    reason: str


@dataclass(frozen=True)
class DuplicateName:
    name: str
    feature_numbers: list[int]


@dataclass(frozen=True)
class Overlap:
    """Two communities that cover the same ground."""

    feature_a: int
    name_a: str
    feature_b: int
    name_b: str
    area_m2: float
    location: tuple[float, float]  # a point inside the overlap, lon/lat


@dataclass(frozen=True)
class Gap:
    """Ground enclosed by communities but in none of them (a hole in their union)."""

    area_m2: float
    location: tuple[float, float]  # a point inside the gap, lon/lat
    bordering: list[str]


@dataclass(frozen=True)
class OutsideServiceArea:
    feature_number: int
    name: str
    entirely: bool  # False: only partly outside


@dataclass
class ValidationReport:
    """Everything found while reading, for the uploader to review.

    Areas are in square metres, computed in a Lambert azimuthal equal-area
    projection centred on the data. Overlaps and gaps smaller than
    ``sliver_threshold_m2`` are only counted (``*_slivers``) with their total
    area, not listed.
    """

    features_read: int = 0
    communities_kept: int = 0
    repaired: list[FeatureProblem] = field(default_factory=list)
    refused: list[FeatureProblem] = field(default_factory=list)
    duplicate_names: list[DuplicateName] = field(default_factory=list)
    duplicate_codes: list[DuplicateName] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    overlap_slivers: int = 0
    overlap_slivers_area_m2: float = 0.0
    gap_slivers: int = 0
    gap_slivers_area_m2: float = 0.0
    sliver_threshold_m2: float = SLIVER_AREA_M2
    outside_service_area: list[OutsideServiceArea] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total_overlap_m2(self) -> float:
        return sum(overlap.area_m2 for overlap in self.overlaps) + self.overlap_slivers_area_m2

    @property
    def total_gap_m2(self) -> float:
        return sum(gap.area_m2 for gap in self.gaps) + self.gap_slivers_area_m2

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (tuples become lists when serialised)."""
        return asdict(self)


@dataclass(frozen=True)
class BoundaryReadResult:
    """A boundary file read, reprojected to EPSG:4326, repaired and checked."""

    communities: list[Community]
    fields: DetectedFields
    source_crs: str  # e.g. "EPSG:32620", or WKT when the CRS has no code
    source_crs_name: str
    layer: str
    format: str  # "GeoJSON", "Shapefile", "GeoPackage", "KML", "KMZ"
    report: ValidationReport
