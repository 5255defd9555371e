"""Community briefs the scheduled job wrote (migration 0015)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import ID


class BriefRecord(Base):
    """One brief made for one community and month, or the failure to make it."""

    __tablename__ = "brief_history"
    __table_args__ = (
        CheckConstraint("status IN ('written', 'failed')", name="brief_status_known"),
        CheckConstraint("audience IN ('partner', 'police')", name="brief_audience_known"),
        CheckConstraint("(status = 'written') = (sha256 IS NOT NULL)", name="brief_written_has_sha256"),
        Index("ix_brief_history_path", "path"),
        Index("ix_brief_history_made_at", "made_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    community: Mapped[str] = mapped_column(Text)
    period: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
