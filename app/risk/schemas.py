"""Risk API shapes."""

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from app.orm import INT4_MAX
from app.sites.schemas import LocatedOut, LocationIn, PersonsIn, PersonsOut, partial


class LecIn(BaseModel):
    l: float
    e: float
    c: float


class GradingOut(BaseModel):
    """Which method, which reading of it and which rule set produced a grade."""

    method: str
    variant: str
    ruleset_version: str


class LecOut(GradingOut):
    d: float
    level: str


class LsIn(BaseModel):
    l: int
    s: int
    variant: str | None = None


class LsOut(GradingOut):
    r: int
    level: str


MAX_INPUTS_BYTES = 4096


def _small_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(inputs, ensure_ascii=False)) > MAX_INPUTS_BYTES:
        raise ValueError(f"inputs larger than {MAX_INPUTS_BYTES} bytes")
    return inputs


class RiskPointIn(LocationIn, PersonsIn):
    enterprise_id: int | None = Field(None, ge=1, le=INT4_MAX)
    name: str = Field(min_length=1, max_length=200)
    hazard_type: str | None = Field(None, max_length=40)
    control_measures: str | None = Field(None, max_length=4000)
    method: Literal["lec", "ls", "direct"]
    inputs: Annotated[dict[str, Any], AfterValidator(_small_inputs)] = Field(
        description=(
            "lec: {l,e,c}; ls: {l,s,variant?}; any: direct: {rule_id: true}; "
            "major_hazard_grade_1_2 follows the enterprise's hazard sources"
        )
    )
    assessed_by: str = Field("api", max_length=50)


class RiskPointOut(LocatedOut, PersonsOut):
    enterprise_id: int | None
    name: str
    hazard_type: str | None
    control_measures: str | None
    method: Literal["lec", "ls", "direct"]
    inputs: dict[str, Any]
    score: float | None
    risk_level: Literal["red", "orange", "yellow", "blue"] | None


RiskPointPatch = partial(RiskPointIn)
