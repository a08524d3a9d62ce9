"""A blacklist listing (migration 0015)."""

from datetime import date, datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base


class BlacklistEntry(Base):
    """One decision to list an enterprise, until `listed_until` or its removal."""

    __tablename__ = "blacklist_entries"

    county_code: Mapped[str] = mapped_column(CHAR(6), ForeignKey("regions.code"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("enterprises.id", ondelete="CASCADE"), nullable=False
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    legal_basis: Mapped[str] = mapped_column(Text, nullable=False)
    decided_on: Mapped[date] = mapped_column(Date, nullable=False)
    listed_until: Mapped[date] = mapped_column(Date, nullable=False)
    decided_by: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(Integer)
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    removed_on: Mapped[date | None] = mapped_column(Date)
    removal: Mapped[str | None] = mapped_column(String(8))
    removal_note: Mapped[str | None] = mapped_column(Text)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


def in_force_sql(enterprise: str, on: str) -> str:
    """SQL true when the enterprise (an SQL expression) has a listing in force on the date
    `on` (an SQL expression): not removed, its period not ended. The map filter and the
    enterprise grading rule both ask this, so they agree on who is listed. An uncorrelated
    IN: PostgreSQL hashes the few listed ids once instead of probing per row (a low-zoom
    tile scans many rows)."""
    return (
        f"{enterprise} IN (SELECT b.enterprise_id FROM blacklist_entries b"
        f" WHERE b.removed_on IS NULL AND b.listed_until >= {on})"
    )
