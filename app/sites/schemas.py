"""Request and response shapes for enterprises, hazard sources and public zones."""

from copy import copy
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field, create_model

from app.geo.location import Crs
from app.orm import INT4_MAX

Level = Literal["red", "orange", "yellow", "blue"]
M = TypeVar("M", bound=BaseModel)


def partial(model: type[M]) -> type[M]:
    """The same model with every field optional (for PATCH), keeping each field's checks.

    A field the full model requires may be left out but not set to null (422 naming it).
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        optional = copy(info)
        optional.default = info.default if name == "crs" else None
        annotation: Any = info.annotation
        fields[name] = (annotation if info.is_required() else annotation | None, optional)
    fields["version"] = (
        int | None,
        Field(None, ge=1, le=INT4_MAX, description="the version edited (or If-Match)"),
    )
    # Typed as the full model: the same fields, only optional (services check for None).
    return cast(type[M], create_model(f"{model.__name__.removesuffix('In')}Patch", **fields))


class LocationIn(BaseModel):
    """A location as lon/lat or GeoJSON, in the coordinate system the client picked it in."""

    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    geometry: dict[str, Any] | None = None
    crs: Crs = "wgs84"


class PersonsIn(BaseModel):
    responsible_person: str | None = Field(None, max_length=50)
    responsible_phone: str | None = Field(None, max_length=30)
    government_person: str | None = Field(None, max_length=50)


class EnterpriseIn(LocationIn, PersonsIn):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18, description="统一社会信用代码")
    sector: str = Field(min_length=1, max_length=40)
    address: str | None = Field(None, max_length=300)
    park: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0, le=INT4_MAX)
    footprint: dict[str, Any] | None = Field(None, description="plant boundary, GeoJSON Polygon")


# Substances are checked against GB 18218's tables when graded (app/risk/grading.py).
Substances = Annotated[list[dict[str, Any]], Field(min_length=1, max_length=100)]


class HazardSourceIn(LocationIn, PersonsIn):
    enterprise_id: int = Field(ge=1, le=INT4_MAX)
    name: str = Field(min_length=1, max_length=200)
    unit_type: Literal["production", "storage"]
    substances: Substances


class PublicZoneIn(LocationIn):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=30)
    population: int | None = Field(
        None, ge=0, le=INT4_MAX, description="resident population (常住人口), counted for α"
    )
    capacity: int | None = Field(
        None, ge=0, le=INT4_MAX, description="most people at once (transient, not counted for α)"
    )
    address: str | None = Field(None, max_length=300)
    managing_department: str | None = Field(None, max_length=100)
    risk_level: Level | None = Field(None, description="graded by government")


MAX_EXPOSED_PEOPLE = 1_000_000


class HazardAssessIn(BaseModel):
    substances: Substances
    exposed_people: int | None = Field(
        None,
        ge=0,
        # A 500 m ring holds tens of thousands at the densest; more is a typo.
        le=MAX_EXPOSED_PEOPLE,
        description="resident population (常住人口) within 500 m outside the plant boundary",
    )
    geometry: dict[str, Any] | None = Field(
        None, description="plant boundary or point, GeoJSON: α then counts the zones around it"
    )
    crs: Crs = "wgs84"


class LocatedOut(BaseModel):
    """What every located row answers with."""

    id: int
    version: int = Field(description="send it back (If-Match or `version`) when editing")
    county_code: str
    grid_code: str | None
    updated_at: str | None
    geometry: dict[str, Any] | None = Field(description="GeoJSON, WGS 84")


class PersonsOut(BaseModel):
    responsible_person: str | None
    responsible_phone: str | None
    government_person: str | None


class EnterpriseOut(LocatedOut, PersonsOut):
    name: str
    credit_code: str
    sector: str
    address: str | None
    park: str | None
    employees: int | None
    risk_level: Level | None
    level_basis: dict[str, Any] | None
    footprint: dict[str, Any] | None


class HazardSourceOut(LocatedOut, PersonsOut):
    enterprise_id: int
    name: str
    unit_type: Literal["production", "storage"]
    substances: list[dict[str, Any]]
    s_value: float | None
    r_value: float | None
    alpha: float | None
    exposed_people: int | None
    grade: int | None
    risk_level: Level | None


class PublicZoneOut(LocatedOut):
    name: str
    kind: str
    population: int | None
    capacity: int | None
    address: str | None
    managing_department: str | None
    risk_level: Level | None


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """The response model of a list: a page of `item`s."""
    items: Any = list.__class_getitem__(item)  # list[item], built at run time
    return create_model(
        f"{item.__name__.removesuffix('Out')}Page",
        items=(items, ...),
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
    )


EnterprisePatch = partial(EnterpriseIn)
HazardSourcePatch = partial(HazardSourceIn)
PublicZonePatch = partial(PublicZoneIn)


# Kinds of emergency resources (应急资源).
EmergencyKind = Literal[
    "rescue_team", "fire_station", "expert", "equipment", "materials_depot", "shelter", "hospital"
]


class EmergencyResourceIn(LocationIn):
    name: str = Field(min_length=1, max_length=200)
    kind: EmergencyKind
    capacity: str | None = Field(
        None, max_length=2000, description="what it holds or can do, e.g. 消防车8辆，指战员40人"
    )
    contact_person: str | None = Field(None, max_length=50)
    contact_phone: str | None = Field(None, max_length=30)


EmergencyResourcePatch = partial(EmergencyResourceIn)


class EmergencyResourceOut(LocatedOut):
    name: str
    kind: str
    capacity: str | None
    contact_person: str | None
    contact_phone: str | None
