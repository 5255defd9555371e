"""Interventions (migration 0014): programmes whose effect on crime is evaluated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID, JSONDocument


class Intervention(Base):
    """A programme in a target area over some dates, with the last evaluation kept."""

    __tablename__ = "interventions"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("resolution BETWEEN 7 AND 11", name="resolution_useful"),
        CheckConstraint("buffer_rings BETWEEN 0 AND 3", name="buffer_rings_small"),
        CheckConstraint("(target_communities IS NULL) <> (target_geometry IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    partner: Mapped[str | None] = mapped_column(Text)
    target_communities: Mapped[list[int] | None] = mapped_column(JSONDocument)
    target_geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    communities: Mapped[list[str]] = mapped_column(JSONDocument)
    resolution: Mapped[int] = mapped_column(SmallInteger)
    buffer_rings: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    comparison_communities: Mapped[list[int] | None] = mapped_column(JSONDocument)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    shared: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    published_evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
