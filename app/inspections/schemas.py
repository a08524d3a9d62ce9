"""Request shapes for inspections."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from app.dangers.schemas import GradeName, RowRef
from app.datetimes import aware
from app.geo.location import Crs

InspectionKind = Literal["self_check", "spot_check", "grid_check"]
ScheduledKind = Literal["self_check", "spot_check"]


class ChecklistItem(BaseModel):
    """One line of the checklist and its result."""

    item: str = Field(min_length=1, max_length=200)
    ok: bool
    note: str | None = Field(None, max_length=1000)


class FindingIn(BaseModel):
    """A hidden danger the inspection found: reported with the inspection, in one step."""

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    grade: GradeName = "general"


class InspectionIn(BaseModel):
    """An inspection of one enterprise (where: lon/lat, else the enterprise's location)."""

    enterprise_id: RowRef
    kind: InspectionKind
    inspected_at: Annotated[
        datetime | None, AfterValidator(lambda moment: None if moment is None else aware(moment))
    ] = Field(None, description="when (default now); without an offset read as UTC+08:00")
    checklist: list[ChecklistItem] = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=4000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=50)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Crs = "wgs84"
