"""Reading community boundary files uploaded by GIS staff.

``read_boundary_file`` accepts GeoJSON, zipped Shapefiles, GeoPackages, KML and
KMZ, reprojects to EPSG:4326, repairs what can be repaired and reports the
rest. Refused files raise ``spatial.errors.InvalidUpload``.
"""

from spatial.boundaries.models import (
    SLIVER_AREA_M2,
    BoundaryReadResult,
    Community,
    DetectedFields,
    DuplicateName,
    FeatureProblem,
    Gap,
    OutsideServiceArea,
    Overlap,
    ValidationReport,
)
from spatial.boundaries.reader import NO_PRJ_MESSAGE, read_boundary_file
from spatial.uploads import UploadLimits

__all__ = [
    "SLIVER_AREA_M2",
    "NO_PRJ_MESSAGE",
    "BoundaryReadResult",
    "Community",
    "DetectedFields",
    "DuplicateName",
    "FeatureProblem",
    "Gap",
    "OutsideServiceArea",
    "Overlap",
    "UploadLimits",
    "ValidationReport",
    "read_boundary_file",
]
