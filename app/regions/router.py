"""Region endpoints: /api/regions/…"""

from typing import Annotated, Literal

from fastapi import Path, Query

from app.db import api_router
from app.deps import SessionDep
from app.regions import service
from app.regions.schemas import REGION_CODE_PATTERN, Feature, Location, RegionOut

router = api_router(prefix="/api/regions", tags=["regions"])

RegionCode = Annotated[str, Path(pattern=REGION_CODE_PATTERN, description="GB/T 2260 code")]


@router.get("/locate", response_model=Location)
def locate_point(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS 84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS 84 latitude")],
) -> Location:
    """Which province, city, county and grid cell contain this point."""
    return service.locate(session, lon=lon, lat=lat)


@router.get("/{code}", response_model=RegionOut)
def get_region(code: RegionCode, session: SessionDep) -> RegionOut:
    """One region."""
    region = service.get_region_or_raise(session, code=code)
    return service.to_out(region)


@router.get("/{code}/children", response_model=list[RegionOut])
def get_children(code: RegionCode, session: SessionDep) -> list[RegionOut]:
    """The regions directly below one region."""
    return service.list_children(session, code=code)


@router.get("/{code}/geometry", response_model=Feature)
def get_geometry(
    code: RegionCode,
    session: SessionDep,
    detail: Literal["full", "medium", "coarse"] = "full",
) -> Feature:
    """A region's outline as a GeoJSON Feature (generalised copies for small scales)."""
    return service.region_feature(session, code=code, detail=detail)
