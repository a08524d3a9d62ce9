"""Regions (province / city / county) and grid cells."""

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base

REGION_LEVELS = ("province", "city", "county")


class Region(Base):
    """One administrative division.

    `is_leaf` marks the county-level units that partition the country: counties, and also
    cities without counties (东莞, 中山, 儋州, 嘉峪关) and Taiwan, which the source data does
    not subdivide. Every located row belongs to exactly one leaf.
    """

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint("level IN ('province','city','county')", name="level"),)

    code: Mapped[str] = mapped_column(CHAR(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    level: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    parent_code: Mapped[str | None] = mapped_column(CHAR(6), index=True)
    province_code: Mapped[str] = mapped_column(CHAR(6), nullable=False, index=True)
    is_leaf: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    code_version: Mapped[str] = mapped_column(String(40), nullable=False)
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    # Generalised copies for low zooms: ~1 km and ~100 m tolerance.
    geom_coarse: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    geom_medium: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    label_point: Mapped[object] = mapped_column(Geometry("POINT", srid=4326), nullable=False)


class RegionPart(Base):
    """A leaf region cut into small pieces (ST_Subdivide) so point-in-polygon stays fast."""

    __tablename__ = "region_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(
        CHAR(6), ForeignKey("regions.code", ondelete="CASCADE"), nullable=False, index=True
    )
    geom: Mapped[object] = mapped_column(
        Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False
    )


class GridCell(Base):
    """A management grid cell (网格) inside one county, with its warden (网格员)."""

    __tablename__ = "grid_cells"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    county_code: Mapped[str] = mapped_column(
        CHAR(6), ForeignKey("regions.code"), nullable=False, index=True
    )
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # generated | imported
    cell_size_m: Mapped[int | None] = mapped_column(Integer)
    warden_name: Mapped[str | None] = mapped_column(String(50))
    warden_phone: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
