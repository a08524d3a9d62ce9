"""Spot-check draws: the seed and the pools they were drawn from, stored for audit."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    DateTime,
    Identity,
    Integer,
    PrimaryKeyConstraint,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base


class SpotCheckDraw(Base):
    """One draw (抽取) for a region and period: who drew it, the seed, the pools and the
    lists drawn. Append-only (a database trigger refuses UPDATE, DELETE and TRUNCATE): a
    published draw is never redrawn in place; anyone re-derives it from seed and pools.

    The key leads with the region's code (a county's for county draws), so the table can
    be distributed like the located tables.
    """

    __tablename__ = "spot_check_draws"
    __table_args__ = (PrimaryKeyConstraint("region_code", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    region_code: Mapped[str] = mapped_column(CHAR(6), nullable=False)
    # 2026-11 (a month), 2026-Q4 (a quarter) or 2026 (a year)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    seed: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(40), nullable=False)
    drawn_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    # {targets: [...], inspectors: [...], conflicts: {...}, intervals: {...}, ...}
    pools: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # {targets: [...], inspectors: [...]} as drawn
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
