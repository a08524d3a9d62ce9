"""Request and response shapes of planning checks, parks, safety zones and reports."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.geo.location import Crs
from app.sites.schemas import LocatedOut, partial

TargetClass = Literal[
    "highly_sensitive", "important", "general_1", "general_2", "general_3", "low_density"
]
ParkClass = Literal["A", "B", "C", "D"]
Version = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]


class CheckIn(BaseModel):
    """A proposed project."""

    kind: str = Field(min_length=1, max_length=40, description="a kind of GET /api/planning/kinds")
    geometry: dict[str, Any] = Field(
        description="GeoJSON Point or Polygon (the kind may allow a LineString)"
    )
    crs: Crs = "wgs84"
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description="the kind's attributes, e.g. {volume_m3: 80} or {people: 1200}",
    )
    rule_set_version: Version | None = Field(None, description="default: the newest published")


class Conflict(BaseModel):
    rule: str
    source_clause: str
    other_id: int
    other_name: str
    other_kind: str
    other_geometry: dict[str, Any] | None = Field(description="GeoJSON, WGS 84")
    target_class: str
    distance_m: float
    required_m: float
    shortfall_m: float
    basis: Literal["table", "own_distance", "contour"]
    confirmed: str


class CheckOut(BaseModel):
    verdict: Literal["pass", "fail"]
    rule_set_version: str
    county_code: str = Field(description="the county the site lies in (GB/T 2260)")
    kind: str
    role: Literal["target", "hazard"]
    target_class: str | None
    hazard_kind: str | None
    attributes: dict[str, Any]
    geometry: dict[str, Any] = Field(description="the site in WGS 84")
    conflicts: list[Conflict]
    zoning: list[dict[str, Any]]
    people_within: dict[str, Any]
    rings: list[dict[str, Any]]
    notes: list[str]


class ReportIn(CheckIn):
    title: str = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=2000)


class ReportOut(BaseModel):
    id: int
    title: str
    kind: str
    verdict: Literal["pass", "fail"]
    rule_set_version: str
    county_code: str
    saved_by: str
    saved_at: str
    note: str | None
    permalink: str
    pdf: str
    result: CheckOut


class ReportSummary(BaseModel):
    id: int
    title: str
    kind: str
    verdict: Literal["pass", "fail"]
    rule_set_version: str
    county_code: str
    saved_by: str
    saved_at: str
    conflicts: int


class ReportPage(BaseModel):
    items: list[ReportSummary]
    total: int
    limit: int
    offset: int


class SetbackIn(BaseModel):
    rule: str = Field(min_length=1, max_length=100)
    hazard_kind: str = Field(min_length=1, max_length=60)
    band_attribute: str = Field("", max_length=40)
    above: float | None = Field(None, ge=0, le=1e9)
    up_to: float | None = Field(None, ge=0, le=1e9)
    target_class: TargetClass
    distance_m: float = Field(gt=0, le=100_000)
    standard: str = Field(min_length=1, max_length=100)
    clause: str = Field(min_length=1, max_length=300)
    confirmed: str = Field("no", max_length=20)


class RuleSetIn(BaseModel):
    """A new version: the current rules with these parts replaced."""

    version: Version
    note: str | None = Field(None, max_length=2000)
    setbacks: list[SetbackIn] | None = Field(None, min_length=1, max_length=5000)
    park_allowed_classes: list[ParkClass] | None = Field(None, min_length=1, max_length=4)


class RuleSetSummary(BaseModel):
    version: str
    published_by: str | None
    published_at: str | None
    note: str | None


class RuleSetList(BaseModel):
    current: str
    versions: list[RuleSetSummary]


class OwnDistanceIn(BaseModel):
    target_class: TargetClass
    distance_m: float = Field(gt=0, le=100_000)


class ContourIn(BaseModel):
    risk_per_year: float = Field(gt=0, le=1, description="a GB 36894 level: 3e-7, 3e-6, 1e-5, 3e-5")
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon")


class SafetyZonesIn(BaseModel):
    """A hazard source's own study: replaces what was uploaded before."""

    reference: str | None = Field(None, max_length=300, description="the assessment report")
    crs: Crs = "wgs84"
    distances: list[OwnDistanceIn] = Field(default_factory=list, max_length=6)
    contours: list[ContourIn] = Field(default_factory=list, max_length=8)


class SafetyZonesOut(BaseModel):
    hazard_source_id: int
    reference: str | None
    distances: list[dict[str, Any]]
    contours: list[dict[str, Any]]


class ParkIn(BaseModel):
    """A chemical park (化工园区) outline and its safety-risk class."""

    name: str = Field(min_length=1, max_length=200)
    risk_class: ParkClass = Field(description="A high … D low (化工园区安全风险排查治理导则)")
    score: float | None = Field(None, ge=0, le=100)
    approval: str | None = Field(None, max_length=200, description="认定文件")
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon")
    crs: Crs = "wgs84"


ParkPatch = partial(ParkIn)


class ParkOut(LocatedOut):
    name: str
    risk_class: ParkClass
    score: float | None
    approval: str | None
