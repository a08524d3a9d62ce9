"""Inspection records (检查记录): 64-bit ids, keyed by county for sharding."""

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base

INSPECTION_KINDS = ("self_check", "spot_check", "grid_check")


class Inspection(Base):
    """One inspection of an enterprise: who, when, where, checklist and findings.

    A national deployment writes hundreds of millions of self-checks a year: 64-bit ids, the
    key led by county_code (the distribution column), no foreign keys to other tables.
    """

    __tablename__ = "inspections"
    __table_args__ = (
        PrimaryKeyConstraint("county_code", "id"),
        CheckConstraint("kind IN ('self_check','spot_check','grid_check')", name="kind"),
        # The overdue lists ask for the latest inspection of each enterprise and kind.
        Index("ix_inspections_enterprise_kind_at", "enterprise_id", "kind", "inspected_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    county_code: Mapped[str] = mapped_column(CHAR(6), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(40), index=True)
    enterprise_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    # [{item, ok, note?}]
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    finding_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    # Row filters of the scope compare updated_at (updated_since); records never change.
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
