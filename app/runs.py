"""A hotspot run as the service reads it: a typed record of its state, parameters and provenance.

The store returns ``Run`` from every read of ``hotspot_runs``; services, privacy
rules, tiles and maps read its attributes. The stored JSON documents are kept as
they are (``document``) for the edge: the API answers with them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from spatial.kinds import AnalysisKind, kind_named

# The keys of a run's record in the API, in order (``get_run``), and of a run in a listing.
RECORD_FIELDS = ("id", "kind", "status", "progress", "stage", "audience", "parameters", "seed", "boundary_set_id",
                 "created_by", "created_at", "started_at", "finished_at", "error", "provenance",
                 "data_changed_at", "data_changed")
SUMMARY_FIELDS = ("id", "kind", "status", "progress", "stage", "audience", "parameters", "seed", "boundary_set_id",
                  "created_at", "finished_at", "error", "data_changed_at", "data_changed", "synthetic")


def _given(document: Mapping[str, Any], key: str, default: Any) -> Any:
    """The document's value, or ``default`` when it is missing or null."""
    value = document.get(key)
    return default if value is None else value


@dataclass(frozen=True)
class RunParameters:
    """What was asked for, as submitted (``document``), with the values the service reads typed."""

    document: Mapping[str, Any]
    resolution: int | None
    communities: tuple[str, ...]
    hold_back_days: int
    sensitive_categories: str | None
    start: str | None
    end: str | None
    sources: tuple[str, ...] = ()
    # The statistics' settings (defaults: those of runs stored before each was recorded).
    neighbours_k: int = 1
    permutations: int = 0
    fdr: bool = True
    alpha: float = 0.05
    inference: str = "conditional"

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> RunParameters:
        document = dict(document or {})
        return cls(document, document.get("resolution"), tuple(document.get("communities") or ()),
                   int(document.get("hold_back_days") or 0), document.get("sensitive_categories"),
                   document.get("start"), document.get("end"), tuple(document.get("sources") or ()),
                   int(_given(document, "neighbours_k", 1)), int(_given(document, "permutations", 0)),
                   bool(_given(document, "fdr", True)), float(_given(document, "alpha", 0.05)),
                   str(_given(document, "inference", "conditional")))

    def scoped(self, sees_community: Callable[[str], bool]) -> RunParameters:
        """The parameters with only the communities ``sees_community`` allows (a scoped partner's view)."""
        return RunParameters.from_document(
            {**self.document, "communities": [n for n in self.communities if sees_community(n)]})


@dataclass(frozen=True)
class Provenance:
    """What a completed run recorded about itself (``document``), with the values the service reads typed."""

    document: Mapping[str, Any]
    cells: int
    incidents_used: int | None
    synthetic: bool
    communities: tuple[Mapping[str, Any], ...]
    evidence: Mapping[str, Any] | None
    moran: Mapping[str, Any] | None
    moran_by_community: Mapping[str, Any]
    incidents_by_community: Mapping[str, int] | None
    inference: str | None

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> Provenance:
        document = dict(document or {})
        return cls(document, int(document.get("cells") or 0), document.get("incidents_used"),
                   bool(document.get("synthetic")), tuple(document.get("communities") or ()),
                   document.get("evidence"), document.get("moran"), document.get("moran_by_community") or {},
                   document.get("incidents_by_community"),
                   (document.get("significance") or {}).get("inference"))


@dataclass(frozen=True)
class Run:
    """One hotspot run. ``provenance`` is empty until it completes; ``synthetic`` says whether it may
    have counted SYNTHETIC (demo) incidents."""

    id: int
    kind: AnalysisKind
    status: str
    audience: str  # 'police' or 'shared'
    parameters: RunParameters
    seed: int | None
    boundary_set_id: int
    provenance: Provenance
    progress: float | None = None
    stage: str | None = None
    created_by: int | None = None
    created_by_name: str | None = None  # who ran it, read only for police listings
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    data_changed_at: datetime | None = None
    data_changed: str | None = None
    # Whether the read had the provenance document (a listing reads only its synthetic flag).
    has_provenance: bool = field(default=True, repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        """A run from a ``hotspot_runs`` row (JSON columns already decoded)."""
        provenance = Provenance.from_document(row.get("provenance"))
        if "synthetic" in row and "provenance" not in row:
            provenance = replace(provenance, synthetic=bool(row["synthetic"]))
        return cls(
            id=int(row["id"]), kind=kind_named(row.get("kind")), status=row["status"],
            audience=row.get("audience") or "police",
            parameters=RunParameters.from_document(row.get("parameters")), seed=row.get("seed"),
            boundary_set_id=row["boundary_set_id"], provenance=provenance,
            progress=row.get("progress"), stage=row.get("stage"), created_by=row.get("created_by"),
            created_by_name=row.get("created_by_name"), created_at=row.get("created_at"), started_at=row.get("started_at"),
            finished_at=row.get("finished_at"), error=row.get("error"),
            data_changed_at=row.get("data_changed_at"), data_changed=row.get("data_changed"),
            has_provenance="provenance" in row and row["provenance"] is not None,
        )

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def synthetic(self) -> bool:
        return self.provenance.synthetic

    def record(self) -> dict[str, Any]:
        """The run as the API shows it (the stored JSON documents unchanged)."""
        values = self._values()
        return {name: values[name] for name in RECORD_FIELDS}

    def summary(self) -> dict[str, Any]:
        """The run as a listing shows it (no provenance but its synthetic flag)."""
        values = self._values()
        return {name: values[name] for name in SUMMARY_FIELDS}

    def _values(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind.name, "status": self.status, "progress": self.progress, "stage": self.stage,
            "audience": self.audience, "parameters": dict(self.parameters.document), "seed": self.seed,
            "boundary_set_id": self.boundary_set_id, "created_by": self.created_by,
            "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
            "error": self.error, "provenance": dict(self.provenance.document) if self.has_provenance else None,
            "data_changed_at": self.data_changed_at, "data_changed": self.data_changed,
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True)
class RunListFilters:
    """Which runs a listing shows: of this status, kind and audience (``None``: any)."""

    status: str | None = None
    kind: str | None = None
    audience: str | None = None
