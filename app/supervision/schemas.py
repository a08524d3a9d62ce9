"""Request shapes for the key-supervision list."""

from pydantic import BaseModel, Field, model_validator

from app.dangers.schemas import RowRef


class UnitIn(BaseModel):
    """A unit under key supervision: a county (by code, for a city's list) or a township
    or street (by name, for a county's list: townships are not in the region table)."""

    code: str | None = Field(None, pattern=r"^\d{6}$")
    name: str = Field("", max_length=100)
    reason: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _named(self) -> "UnitIn":
        if self.code is None and not self.name.strip():
            raise ValueError("a unit needs a county code or a township's name")
        return self


class EnterpriseIn(BaseModel):
    """An enterprise under key supervision and why."""

    enterprise_id: RowRef
    reason: str | None = Field(None, max_length=1000)


class KeyListIn(BaseModel):
    """A region's whole list for a year (it replaces the one stored)."""

    region: str = Field(pattern=r"^\d{6}$")
    year: int = Field(ge=2000, le=2100)
    units: list[UnitIn] = Field(default_factory=list, max_length=10)
    enterprises: list[EnterpriseIn] = Field(default_factory=list, max_length=50)
