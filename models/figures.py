"""Populations and indicators per community (migration 0013), versioned like boundary sets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID


class CommunityFigure(Base):
    """One uploaded figure of a boundary set's communities: a population, or an indicator."""

    __tablename__ = "community_figures"
    __table_args__ = (
        CheckConstraint("kind IN ('population', 'indicator')", name="kind_known"),
        UniqueConstraint("boundary_set_id", "kind", "name", "version", name="uq_community_figures_version"),
        Index("uq_community_figures_one_active", "boundary_set_id", "kind", "name", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    boundary_set_id: Mapped[int] = mapped_column(ForeignKey("boundary_sets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column()
    source: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean)
    filename: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CommunityFigureValue(Base):
    """A figure's value for one community."""

    __tablename__ = "community_figure_values"

    figure_id: Mapped[int] = mapped_column(ForeignKey("community_figures.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)
    value: Mapped[float] = mapped_column(Float)
