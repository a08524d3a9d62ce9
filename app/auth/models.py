"""Users and failed sign-ins: small reference tables (never sharded)."""

from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base

ROLE_CHECK = "role IN ('admin','official','warden','enterprise','planner')"


class User(Base):
    """A person who signs in; the role and its scope decide what they see and change."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(12), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(100))
    # Officials and planners: the province, city or county they answer for.
    region_code: Mapped[str | None] = mapped_column(CHAR(6), ForeignKey("regions.code"))
    # Officials: a department supervises its sectors only (geodata/auth/departments.csv).
    department: Mapped[str | None] = mapped_column(String(40))
    # Wardens: their grid cells (all in one county).
    grid_cells: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), nullable=False, server_default="{}"
    )
    # Enterprise accounts: their enterprise. No foreign key: enterprises will be sharded by
    # county while users stay a reference table; the service checks it exists.
    enterprise_id: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Bumped when the password changes or the user is disabled: older tokens stop working.
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    # Read once by SQLAlchemy when the class is mapped.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LoginFailure(Base):
    """One failed sign-in, kept for throttling (per account and per client address)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    address: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
