"""Request shapes for hidden dangers and their transitions."""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.geo.location import Crs
from app.orm import INT4_MAX
from app.sites.schemas import LocationIn, PersonsIn

GradeName = Literal["general", "larger", "major"]
StatusName = Literal[
    "reported",
    "registered",
    "assessed",
    "planned",
    "reported_to_regulator",
    "supervised",
    "rectifying",
    "rectified",
    "accepted",
    "verified",
    "closed",
]
SupervisionLevelName = Literal["street", "district", "city"]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of an upload")]
PlanText = Annotated[str, Field(max_length=2000)]
RowRef = Annotated[int, Field(ge=1, le=INT4_MAX)]


class DangerIn(LocationIn, PersonsIn):
    """A hidden danger as reported (排查发现); located at its risk point or enterprise
    unless lon/lat or a geometry is given."""

    enterprise_id: RowRef | None = None
    risk_point_id: RowRef | None = None
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    grade: GradeName = Field("general", description="the reporter's grade; assessed later")


class EvidenceIn(BaseModel):
    """What proves a step: a text and photos uploaded to the danger before."""

    text: str | None = Field(None, max_length=2000)
    photos: list[Sha256] = Field(default_factory=list, max_length=20)


class TransitionIn(BaseModel):
    """One lifecycle step; which fields it needs is data (geodata/dangers/transitions.csv)."""

    action: str = Field(pattern=r"^[a-z_]{1,32}$", description="e.g. register, assess, plan")
    note: str | None = Field(None, max_length=2000)
    evidence: EvidenceIn | None = None
    deadline: date | None = Field(None, description="treatment or supervision deadline")
    supervision_level: SupervisionLevelName | None = None
    grade: GradeName | None = None
    plan: dict[str, PlanText] | None = Field(
        None,
        max_length=12,
        description="treatment plan items (major) or the 五落实 items (general)",
    )
    lon: float | None = Field(None, ge=-180, le=180, description="where the step was taken")
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Crs = "wgs84"
