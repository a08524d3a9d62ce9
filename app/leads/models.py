"""Leads: what a warden saw change in the grid, or what the public reported."""

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base

LEAD_KINDS = (
    "new_enterprise",
    "closed_enterprise",
    "moved_enterprise",
    "unregistered",
    "illegal_operation",
    "other",
)
LEAD_SOURCES = ("warden", "official", "public")
LEAD_STATUSES = ("new", "confirmed", "dismissed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Lead(Base):
    """One lead: kind, where, what was seen, who sent it, and the official's decision.

    Located like the other rows (county and grid cell from the geometry, by the database's
    region-codes trigger); 64-bit ids, key led by county_code (the distribution column);
    `enterprise_id` names the enterprise a confirmed lead is about (no foreign key: the
    table is to be sharded by county).
    """

    __tablename__ = "leads"
    __table_args__ = (
        PrimaryKeyConstraint("county_code", "id"),
        CheckConstraint(_in("kind", LEAD_KINDS), name="kind"),
        CheckConstraint(_in("source", LEAD_SOURCES), name="source"),
        CheckConstraint(_in("status", LEAD_STATUSES), name="status"),
        Index("ix_leads_id", "id"),
        Index("ix_leads_status_created", "status", "created_at"),
        Index(
            "ix_leads_client_recent",
            "client_hash",
            "created_at",
            postgresql_where="client_hash IS NOT NULL",
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    county_code: Mapped[str] = mapped_column(
        CHAR(6), ForeignKey("regions.code"), nullable=False, server_default=FetchedValue()
    )
    grid_code: Mapped[str | None] = mapped_column(
        String(40), index=True, server_default=FetchedValue()
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="new")
    description: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    # A tip-off's way back to its sender (optional); shown to officials only.
    contact: Mapped[str | None] = mapped_column(String(100))
    enterprise_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    # The public's address, hashed with the signing secret: enough to rate-limit, not to
    # identify the sender.
    client_hash: Mapped[str | None] = mapped_column(CHAR(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
