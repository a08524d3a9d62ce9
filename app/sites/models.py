"""Located things the risk map shows."""

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import RISK_LEVEL_CHECK, Base, Located


class ResponsiblePersons:
    """Named people: one in the enterprise, one in government (分级管控 duty)."""

    responsible_person: Mapped[str | None] = mapped_column(String(50))
    responsible_phone: Mapped[str | None] = mapped_column(String(30))
    government_person: Mapped[str | None] = mapped_column(String(50))


class Enterprise(Located, ResponsiblePersons, Base):
    """A production or business unit (生产经营单位)."""

    __tablename__ = "enterprises"
    __table_args__ = (CheckConstraint(RISK_LEVEL_CHECK, name="risk_level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    credit_code: Mapped[str] = mapped_column(CHAR(18), nullable=False, unique=True)
    sector: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    park: Mapped[str | None] = mapped_column(String(100))
    employees: Mapped[int | None] = mapped_column(Integer)
    # Plant boundary when known; α (GB 18218) measures 500 m from it, else from geom.
    footprint: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)
    )
    risk_level: Mapped[str | None] = mapped_column(String(6), index=True)
    level_basis: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class HazardSource(Located, ResponsiblePersons, Base):
    """A major hazard source (重大危险源) unit of an enterprise, graded by GB 18218-2018."""

    __tablename__ = "hazard_sources"
    __table_args__ = (
        CheckConstraint(RISK_LEVEL_CHECK, name="risk_level"),
        CheckConstraint("grade IS NULL OR grade BETWEEN 1 AND 4", name="grade"),
        CheckConstraint("unit_type IN ('production','storage')", name="unit_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    unit_type: Mapped[str] = mapped_column(String(12), nullable=False)
    # [{cas?, name?, category?, quantity_t}]
    substances: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    s_value: Mapped[float | None] = mapped_column(Float)
    r_value: Mapped[float | None] = mapped_column(Float)
    alpha: Mapped[float | None] = mapped_column(Float)
    exposed_people: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[int | None] = mapped_column(SmallInteger, index=True)
    risk_level: Mapped[str | None] = mapped_column(String(6), index=True)


class PublicZone(Located, Base):
    """A public area graded by government (公共区域): crowded places, pipelines, stations …"""

    __tablename__ = "public_zones"
    __table_args__ = (CheckConstraint(RISK_LEVEL_CHECK, name="risk_level"),)
    geom_type = "GEOMETRY"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    population: Mapped[int | None] = mapped_column(Integer)
    capacity: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(300))
    managing_department: Mapped[str | None] = mapped_column(String(100))
    risk_level: Mapped[str | None] = mapped_column(String(6), index=True)


class EmergencyResource(Located, Base):
    """A rescue team, fire station, materials depot, hospital … (应急资源)."""

    __tablename__ = "emergency_resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    capacity: Mapped[str | None] = mapped_column(Text)
    contact_person: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
