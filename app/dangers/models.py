"""Hidden dangers, their append-only history and the photos taken as evidence."""

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
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

from app.orm import Base, Located
from app.sites.models import ResponsiblePersons

DANGER_GRADES = ("general", "larger", "major")
# Every status the lifecycle data (geodata/dangers/statuses.csv) may name; the database
# refuses any other.
DANGER_STATUSES = (
    "reported",
    "registered",
    "assessed",
    "planned",
    "reported_to_regulator",
    "supervised",
    "rectifying",
    "rectified",
    "accepted",
    "verified",
    "closed",
)
SUPERVISION_LEVELS = ("street", "district", "city")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class HiddenDanger(Located, ResponsiblePersons, Base):
    """A hidden danger (事故隐患) found at an enterprise or public zone."""

    __tablename__ = "hidden_dangers"
    __table_args__ = (
        CheckConstraint(_in("grade", DANGER_GRADES), name="grade"),
        CheckConstraint(_in("status", DANGER_STATUSES), name="status"),
        CheckConstraint(
            "supervision_level IS NULL OR " + _in("supervision_level", SUPERVISION_LEVELS),
            name="supervision_level",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    risk_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_points.id", ondelete="SET NULL"), index=True
    )
    # The inspection that found it (no foreign key: inspections are sharded by county).
    inspection_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="reported", index=True)
    deadline: Mapped[date | None] = mapped_column(Date)
    # The treatment plan (major: six items) or the 五落实 of a general danger.
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    supervision_level: Mapped[str | None] = mapped_column(String(8), index=True)
    supervision_deadline: Mapped[date | None] = mapped_column(Date)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    found_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DangerEvent(Base):
    """One step of a hidden danger's lifecycle: who, when, what, evidence and where.

    Append-only (database triggers refuse UPDATE, DELETE and TRUNCATE). The key starts with
    county_code so the table can be distributed by county; no foreign key to
    hidden_dangers, so the record outlives the row, like the audit log.
    """

    __tablename__ = "hidden_danger_events"
    __table_args__ = (
        PrimaryKeyConstraint("county_code", "id"),
        Index("ix_hidden_danger_events_danger", "danger_id", "id"),
        # A retried submission (same Idempotency-Key) is recorded once.
        Index(
            "uq_hidden_danger_events_idempotency",
            "county_code",
            "danger_id",
            "idempotency_key",
            unique=True,
            postgresql_where="idempotency_key IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    county_code: Mapped[str] = mapped_column(CHAR(6), nullable=False)
    danger_id: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24), nullable=False)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # {text?, photos: [sha256 …]}
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    grade: Mapped[str | None] = mapped_column(String(8))
    deadline: Mapped[date | None] = mapped_column(Date)
    supervision_level: Mapped[str | None] = mapped_column(String(8))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(100))


class EvidenceFile(Base):
    """A photo uploaded as evidence: stored as data_dir/evidence/<sha256>, described here."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        PrimaryKeyConstraint("county_code", "id"),
        Index("ix_evidence_files_danger", "danger_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), autoincrement=True, nullable=False)
    county_code: Mapped[str] = mapped_column(CHAR(6), nullable=False)
    danger_id: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    content_type: Mapped[str] = mapped_column(String(20), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    filename: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
