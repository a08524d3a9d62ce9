"""Chemical parks, published rule sets, hazard sources' own safety studies, saved checks."""

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    Identity,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, Located


class ChemicalPark(Located, Base):
    """A chemical park (化工园区) with its safety-risk class A (high) … D (low)."""

    __tablename__ = "chemical_parks"
    __table_args__ = (CheckConstraint("risk_class IN ('A','B','C','D')", name="risk_class"),)
    geom_type = "MULTIPOLYGON"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    risk_class: Mapped[str] = mapped_column(CHAR(1), nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    approval: Mapped[str | None] = mapped_column(String(200))


class PlanningRuleSet(Base):
    """A published version of the planning rules (setbacks, classes, zoning)."""

    __tablename__ = "planning_rule_sets"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class HazardSafetyZone(Base):
    """A hazard source's own external safety distance or individual-risk contour, from its
    risk assessment report (GB/T 37243, GB 36894 levels)."""

    __tablename__ = "hazard_safety_zones"
    __table_args__ = (
        CheckConstraint("kind IN ('contour','distance')", name="kind"),
        CheckConstraint(
            "(kind = 'contour' AND risk_per_year > 0 AND geom IS NOT NULL)"
            " OR (kind = 'distance' AND distance_m > 0 AND target_class IS NOT NULL)",
            name="shape",
        ),
    )

    county_code: Mapped[str] = mapped_column(CHAR(6), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hazard_source_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    risk_per_year: Mapped[float | None] = mapped_column(Float)
    target_class: Mapped[str | None] = mapped_column(String(20))
    distance_m: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)
    )
    reference: Mapped[str | None] = mapped_column(String(300))
    uploaded_by: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PlanningReport(Base):
    """A saved check: the proposal, the verdict and conflicts, who saved it and under which
    rule-set version (immutable: a decision record)."""

    __tablename__ = "planning_reports"

    county_code: Mapped[str] = mapped_column(CHAR(6), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    geom: Mapped[object] = mapped_column(Geometry("GEOMETRY", srid=4326), nullable=False)
    verdict: Mapped[str] = mapped_column(String(4), nullable=False)
    rule_set_version: Mapped[str] = mapped_column(String(40), nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    saved_by_id: Mapped[int | None] = mapped_column(Integer)
    saved_by: Mapped[str] = mapped_column(String(64), nullable=False)
    saved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
