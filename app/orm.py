"""Declarative base and the columns every located row shares (imported by every domain model)."""

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import CHAR, DateTime, FetchedValue, ForeignKey, Integer, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

if TYPE_CHECKING:
    from sqlalchemy import FromClause

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RISK_LEVELS = ("red", "orange", "yellow", "blue")
# PostgreSQL `integer` (ids, head counts): a larger number from a client is a 422, not a DB error.
INT4_MAX = 2**31 - 1

RISK_LEVEL_CHECK = "risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Located:
    """A row with a geometry, the county it falls in and the grid cell it falls in.

    county_code and grid_code are set by the `assign_region_codes` trigger on every write
    of geom, never taken from input: that is what the data will later be sharded on.
    """

    geom_type = "POINT"

    if TYPE_CHECKING:
        # Every class mixing this in is also a `Base`, whose mapping sets the table.
        __table__: ClassVar[FromClause]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Every ORM update checks and bumps `version`: a stale edit fails, never overwrites.
        return {"eager_defaults": True, "version_id_col": cls.__table__.c.version}

    @declared_attr
    def version(cls) -> Mapped[int]:
        return mapped_column(Integer, nullable=False, server_default="1")

    @declared_attr
    def geom(cls) -> Mapped[object]:
        return mapped_column(Geometry(cls.geom_type, srid=4326, spatial_index=True), nullable=False)

    @declared_attr
    def county_code(cls) -> Mapped[str]:
        return mapped_column(
            CHAR(6),
            ForeignKey("regions.code"),
            index=True,
            nullable=False,
            server_default=FetchedValue(),
            server_onupdate=FetchedValue(),
        )

    @declared_attr
    def grid_code(cls) -> Mapped[str | None]:
        return mapped_column(
            String(40), index=True, server_default=FetchedValue(), server_onupdate=FetchedValue()
        )

    @declared_attr
    def updated_at(cls) -> Mapped[datetime]:
        return mapped_column(
            DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), index=True
        )


# On a Citus database the coordinator routes located writes by county (app/cluster).
from app.cluster import routing as _routing  # noqa: E402, F401
