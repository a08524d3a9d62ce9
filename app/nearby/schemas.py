"""Shapes of the nearby answer (built by PostgreSQL; documented here for the OpenAPI)."""

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

NearbyKind = Literal[
    "risk_points",
    "enterprises",
    "hazard_sources",
    "public_zones",
    "hidden_dangers",
    "emergency_resources",
]
Level = Literal["red", "orange", "yellow", "blue"]
# Comma-separated lists, so that every string the schema admits is a valid request.
KINDS_PATTERN = (
    r"^(risk_points|enterprises|hazard_sources|public_zones|hidden_dangers"
    r"|emergency_resources)(,(risk_points|enterprises|hazard_sources"
    r"|public_zones|hidden_dangers|emergency_resources))*$"
)
LEVELS_PATTERN = r"^(red|orange|yellow|blue)(,(red|orange|yellow|blue))*$"


class NearbyProperties(BaseModel):
    """What a warden's card shows; fields a kind lacks, or that are empty, are left out."""

    kind: NearbyKind
    id: int
    name: str
    risk_level: Level | None = Field(
        description="hidden dangers: major → red, larger → orange, general → yellow; "
        "emergency resources: null"
    )
    distance_m: float = Field(description="geodesic (WGS 84) distance, 0.1 m")
    bearing_deg: float | None = Field(
        description="azimuth from the point, clockwise from north; null on or inside a zone"
    )
    enterprise_id: int | None = None
    enterprise_name: str | None = None
    sector: str | None = None
    address: str | None = None
    hazard_type: str | None = None
    control_measures: str | None = None
    hazard_grade: int | None = Field(None, description="GB 18218 grade 1–4")
    zone_kind: str | None = None
    managing_department: str | None = None
    danger_grade: Literal["general", "larger", "major"] | None = None
    status: str | None = None
    deadline: date | None = None
    resource_kind: str | None = None
    capacity: str | None = None
    responsible_person: str | None = None
    responsible_phone: str | None = None
    government_person: str | None = None
    contact_person: str | None = None
    contact_phone: str | None = None


class NearbyFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="kind.id, e.g. risk_points.12")
    geometry: dict[str, Any]
    properties: NearbyProperties


class NearbyCollection(BaseModel):
    type: Literal["FeatureCollection"]
    center: list[float] = Field(description="the point searched from, WGS 84 [lon, lat]")
    radius_m: float
    kinds: list[NearbyKind] = Field(description="the kinds searched")
    features: list[NearbyFeature] = Field(description="nearest first")
