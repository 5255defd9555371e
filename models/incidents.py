"""Geocoded police incidents: sensitive, never published as points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Computed, DateTime, Float, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID, JSONDocument, geometry


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_incidents_source_external_id"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_occurred_at", "occurred_at", postgresql_include=["h3_cell", "category", "source"]),
        Index("ix_incidents_community_id", "community_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    category: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    lon: Mapped[float] = mapped_column(Float(precision=53))
    lat: Mapped[float] = mapped_column(Float(precision=53))
    geom = mapped_column(
        geometry("POINT"),
        Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
        nullable=False,
    )
    # H3 cell of the point at the base resolution (15), as a signed bigint.
    h3_cell: Mapped[int] = mapped_column(BigInteger)
    # Plain columns, not foreign keys: see migration 0001 (COPY speed).
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    import_id: Mapped[int | None] = mapped_column(BigInteger)
