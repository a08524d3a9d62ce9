"""Risk points and the grading history."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import RISK_LEVEL_CHECK, Base, Located
from app.sites.models import ResponsiblePersons


class RiskPoint(Located, ResponsiblePersons, Base):
    """A risk point (风险点) identified by an enterprise, with its grading inputs."""

    __tablename__ = "risk_points"
    __table_args__ = (
        CheckConstraint(RISK_LEVEL_CHECK, name="risk_level"),
        CheckConstraint("method IN ('lec','ls','direct')", name="method"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    hazard_type: Mapped[str | None] = mapped_column(String(40))
    control_measures: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    risk_level: Mapped[str | None] = mapped_column(String(6), index=True)


class Assessment(Base):
    """One grading of one thing: method, inputs, result, rule-set version, who and when.

    Rows are only ever added, so re-grading keeps the history.
    """

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20), nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    risk_level: Mapped[str | None] = mapped_column(String(6))
    ruleset_version: Mapped[str] = mapped_column(String(40), nullable=False)
    assessed_by: Mapped[str] = mapped_column(String(50), nullable=False)
    assessed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(RISK_LEVEL_CHECK, name="risk_level"),
        Index("ix_assessments_subject", "subject_type", "subject_id", text("assessed_at DESC")),
        {"comment": "append-only grading history"},
    )


class RegionCount(Base):
    """One running count for one region or grid cell, e.g. ('640100', 'risk_points.red', 12).

    Kept exact by statement-level triggers on the located tables, so a write and the
    aggregates it changes commit together; `riskatlas risk rebuild` recomputes them all.
    """

    __tablename__ = "region_counts"

    region_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


class RegionCountSnapshot(Base):
    """The counts of one day, for trends."""

    __tablename__ = "region_count_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)
