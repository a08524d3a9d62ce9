"""Request shapes for the key-supervision list."""

from pydantic import BaseModel, ConfigDict, Field

from app.dangers.schemas import RowRef

Reason = Field(None, max_length=1000, description="why it is under key supervision")


class CountyIn(BaseModel):
    """A county on a city's list, by its code."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{6}$")
    reason: str | None = Reason


class TownshipIn(BaseModel):
    """A township or street on a county's list, by its name (townships are not in the
    region table)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    reason: str | None = Reason


class EnterpriseIn(BaseModel):
    """An enterprise under key supervision and why."""

    enterprise_id: RowRef
    reason: str | None = Reason


class KeyListIn(BaseModel):
    """A region's whole list for a year (it replaces the one stored)."""

    region: str = Field(pattern=r"^\d{6}$")
    year: int = Field(ge=2000, le=2100)
    units: list[CountyIn | TownshipIn] = Field(default_factory=list, max_length=10)
    enterprises: list[EnterpriseIn] = Field(default_factory=list, max_length=50)
