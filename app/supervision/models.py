"""The key-supervision list: one row per region, year and chosen unit or enterprise."""

from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base

KINDS = ("unit", "enterprise")


class KeySupervisionEntry(Base):
    """A county or township (unit) or an enterprise on a region's list for a year, with the
    reason the official gave. Keyed by the listing region's code first; the id names the
    row in the audit log."""

    __tablename__ = "key_supervision"
    __table_args__ = (
        PrimaryKeyConstraint("region_code", "id"),
        UniqueConstraint("region_code", "year", "kind", "subject"),
        CheckConstraint("kind IN ('unit', 'enterprise')", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    region_code: Mapped[str] = mapped_column(CHAR(6), nullable=False)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    # a county code, a township's name, or an enterprise id
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    chosen_by_id: Mapped[int | None] = mapped_column(Integer)
    chosen_by: Mapped[str | None] = mapped_column(String(64))
    chosen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
