"""Enforcement actions (migration 0015): the punished, banned and closed rows of 五个一批."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base


class EnforcementAction(Base):
    """A punishment (惩治), ban of an illegal enterprise (取缔) or closure (关闭)."""

    __tablename__ = "enforcement_actions"

    county_code: Mapped[str] = mapped_column(CHAR(6), ForeignKey("regions.code"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("enterprises.id", ondelete="SET NULL")
    )
    unit_name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    decided_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    fine_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    decided_by: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
