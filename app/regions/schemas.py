"""Region API shapes."""

from typing import Any, Literal

from pydantic import BaseModel

RegionLevel = Literal["province", "city", "county"]
REGION_CODE_PATTERN = r"^\d{6}$"


class RegionOut(BaseModel):
    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


class RegionRef(BaseModel):
    code: str
    name: str


class Location(BaseModel):
    province: RegionRef
    city: RegionRef | None
    county: RegionRef
    grid: RegionRef | None = None


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
