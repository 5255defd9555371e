"""Hotspot analysis runs and their per-cell results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID, JSONDocument, geometry


class HotspotRun(Base):
    __tablename__ = "hotspot_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','completed','failed')", name="status_known"),
        CheckConstraint("audience IN ('police','shared')", name="audience_known"),
        Index("ix_hotspot_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    stage: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    seed: Mapped[int] = mapped_column(BigInteger)
    boundary_set_id: Mapped[int] = mapped_column(ForeignKey("boundary_sets.id", ondelete="RESTRICT"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # "shared" runs leave out sensitive categories and are the only ones below-analyst users see.
    audience: Mapped[str] = mapped_column(Text, server_default="police")
    # The worker executing the run ("host:pid") and its last sign of life (migration 0008).
    worker: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when rows this run counted were removed since (an import undone; migration 0009).
    data_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    data_changed: Mapped[str | None] = mapped_column(Text)
    # Which analysis the run is (spatial/kinds): its cells, classes, tiles and exports (migration 0011).
    kind: Mapped[str] = mapped_column(Text, server_default="hotspot")


class HotspotCell(Base):
    __tablename__ = "hotspot_cells"
    __table_args__ = (
        Index("ix_hotspot_cells_geom", "geom", postgresql_using="gist"),
        Index("ix_hotspot_cells_run_community", "run_id", "community_id"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True)
    cell: Mapped[int] = mapped_column(ID, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    incidents: Mapped[int] = mapped_column()
    gi_z: Mapped[float | None] = mapped_column(Float)
    gi_p: Mapped[float | None] = mapped_column(Float)
    gi_p_sim: Mapped[float | None] = mapped_column(Float)
    gi_p_fdr: Mapped[float | None] = mapped_column(Float)
    gi_bin: Mapped[int] = mapped_column(SmallInteger)
    lisa_i: Mapped[float | None] = mapped_column(Float)
    lisa_quadrant: Mapped[int] = mapped_column(SmallInteger)
    lisa_p_sim: Mapped[float | None] = mapped_column(Float)
    lisa_p_fdr: Mapped[float | None] = mapped_column(Float)
    lisa_label: Mapped[str] = mapped_column(Text)
    # Rate runs only (migration 0016): residents spread onto the cell by area, and its smoothed rate
    # per 1,000 residents, the value analysed. Police only.
    residents: Mapped[float | None] = mapped_column(Float)
    smoothed_rate: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(geometry("POLYGON"), nullable=False)


class HotspotCellParent(Base):
    """A coarser H3 parent of a run's cells, aggregated for low-zoom tiles (filled on first use)."""

    __tablename__ = "hotspot_cell_parents"
    __table_args__ = (Index("ix_hotspot_cell_parents_geom", "geom", postgresql_using="gist"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True)
    resolution: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[int] = mapped_column(ID, primary_key=True)
    cells: Mapped[int] = mapped_column()
    incidents: Mapped[int] = mapped_column(BigInteger)
    gi_bin: Mapped[int] = mapped_column(SmallInteger)
    hot_cells: Mapped[int] = mapped_column()
    cold_cells: Mapped[int] = mapped_column()
    # What audiences below analyst see: the sum of the children with k or more, and that k.
    published_incidents: Mapped[int | None] = mapped_column(BigInteger)
    published_min_count: Mapped[int | None] = mapped_column()
    geom = mapped_column(geometry("POLYGON"), nullable=False)


class EmergingCell(Base):
    """A cell of an emerging hot spot run: its pattern over time and its series per step (migration 0012)."""

    __tablename__ = "emerging_cells"
    __table_args__ = (
        Index("ix_emerging_cells_geom", "geom", postgresql_using="gist"),
        Index("ix_emerging_cells_run_community", "run_id", "community_id"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True)
    cell: Mapped[int] = mapped_column(ID, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    incidents: Mapped[int] = mapped_column()
    category: Mapped[int] = mapped_column(SmallInteger)
    pattern: Mapped[str] = mapped_column(Text)
    trend_tau: Mapped[float | None] = mapped_column(Float)
    trend_p: Mapped[float | None] = mapped_column(Float)
    hot_steps: Mapped[int] = mapped_column()
    cold_steps: Mapped[int] = mapped_column()
    last_gi_z: Mapped[float | None] = mapped_column(Float)
    step_classes: Mapped[str] = mapped_column(Text)  # Gi_Bin per step, "v1,v2,…", oldest first
    step_counts: Mapped[str] = mapped_column(Text)  # incidents per step (police only)
    geom = mapped_column(geometry("POLYGON"), nullable=False)


class EmergingCellParent(Base):
    """A coarser H3 parent of an emerging run's cells, for low-zoom tiles."""

    __tablename__ = "emerging_cell_parents"
    __table_args__ = (Index("ix_emerging_cell_parents_geom", "geom", postgresql_using="gist"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("hotspot_runs.id", ondelete="CASCADE"), primary_key=True)
    resolution: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[int] = mapped_column(ID, primary_key=True)
    cells: Mapped[int] = mapped_column()
    incidents: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[int] = mapped_column(SmallInteger)
    hot_cells: Mapped[int] = mapped_column()
    cold_cells: Mapped[int] = mapped_column()
    step_classes: Mapped[str] = mapped_column(Text)
    published_incidents: Mapped[int | None] = mapped_column(BigInteger)
    published_min_count: Mapped[int | None] = mapped_column()
    geom = mapped_column(geometry("POLYGON"), nullable=False)
