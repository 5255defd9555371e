"""Versioned community boundary sets uploaded by GIS staff."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID, JSONDocument, geometry


class BoundarySet(Base):
    __tablename__ = "boundary_sets"
    __table_args__ = (
        # At most one active set.
        Index("uq_boundary_sets_one_active", "is_active", unique=True, postgresql_where=text("is_active")),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    source_crs: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="false")
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (Index("ix_communities_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    boundary_set_id: Mapped[int] = mapped_column(ForeignKey("boundary_sets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    population: Mapped[float | None] = mapped_column(Float)
    area_km2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
