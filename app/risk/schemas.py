"""Risk API shapes."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.orm import INT4_MAX
from app.sites.schemas import LocationIn, PersonsIn, partial


class LecIn(BaseModel):
    l: float  # noqa: E741
    e: float
    c: float


class LecOut(BaseModel):
    d: float
    level: str


class LsIn(BaseModel):
    l: int  # noqa: E741
    s: int
    variant: str | None = None


class LsOut(BaseModel):
    r: int
    level: str


class RiskPointIn(LocationIn, PersonsIn):
    enterprise_id: int | None = Field(None, ge=1, le=INT4_MAX)
    name: str = Field(min_length=1, max_length=200)
    hazard_type: str | None = Field(None, max_length=40)
    control_measures: str | None = None
    method: Literal["lec", "ls", "direct"]
    inputs: dict[str, Any] = Field(
        description="lec: {l,e,c}; ls: {l,s,variant?}; any: direct: {rule_id: true}")
    assessed_by: str = Field("api", max_length=50)


RiskPointPatch = partial(RiskPointIn)
