"""Disclosure control (migration 0009): privacy rules, admin terms, each category's class."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class PrivacyRules(Base):
    """One row: the k and hold-back the database's own functions and views apply."""

    __tablename__ = "privacy_rules"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"), CheckConstraint("min_count >= 3", name="k_at_least_3"),
                      CheckConstraint("hold_back_days >= 0", name="hold_back_not_negative"))

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    min_count: Mapped[int] = mapped_column()
    hold_back_days: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SensitiveTerm(Base):
    """A term an admin (or the settings) added to the shipped list."""

    __tablename__ = "sensitive_terms"

    term: Mapped[str] = mapped_column(Text, primary_key=True)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentCategory(Base):
    """A distinct incident category, classed once (spatial/sensitive.py)."""

    __tablename__ = "incident_categories"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    sensitive: Mapped[bool] = mapped_column(Boolean)
    matched_term: Mapped[str | None] = mapped_column(Text)
    near_miss: Mapped[str | None] = mapped_column(Text)
    classified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
