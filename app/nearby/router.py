"""Nearby endpoints: /api/nearby and /api/emergency/nearest."""

from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from app.db import api_router
from app.deps import ScopeDep, SearchSessionDep
from app.geo.location import Crs, parse_location
from app.nearby import service
from app.nearby.schemas import KINDS_PATTERN, LEVELS_PATTERN, NearbyCollection
from app.sites.schemas import EmergencyKind

GEOJSON = "application/geo+json"
MAX_RADIUS_M = 50_000
MAX_LIMIT = 200
# Resources serve a whole district: the nearest fire station may be far outside town.
MAX_EMERGENCY_RADIUS_M = 500_000

router = api_router(prefix="/api", tags=["nearby"])

Lon = Annotated[float, Query(ge=-180, le=180, description="longitude in `crs`")]
Lat = Annotated[float, Query(ge=-90, le=90, description="latitude in `crs`")]
PointCrs = Annotated[
    Crs, Query(description="wgs84 | cgcs2000 | gcj02 (AMap, Tencent) | bd09 (Baidu)")
]


class GeoJSONResponse(JSONResponse):
    """GeoJSON rendered by PostgreSQL, sent as it came."""

    media_type = GEOJSON

    def render(self, content: str) -> bytes:
        return content.encode()


def _wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    point = parse_location(lon=lon, lat=lat, geometry=None, crs=crs)
    return point.x, point.y


@router.get("/nearby", response_class=GeoJSONResponse, response_model=NearbyCollection)
def nearby(
    session: SearchSessionDep,
    scope: ScopeDep,
    lon: Lon,
    lat: Lat,
    radius_m: Annotated[float, Query(gt=0, le=MAX_RADIUS_M, description="metres")] = 5000,
    levels: Annotated[
        str | None, Query(pattern=LEVELS_PATTERN, description="e.g. red,orange")
    ] = None,
    kinds: Annotated[
        str | None,
        Query(pattern=KINDS_PATTERN, description="comma-separated; default: every kind you read"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    crs: PointCrs = "wgs84",
) -> GeoJSONResponse:
    """What lies within `radius_m` of a point, nearest first by geodesic distance, with
    distance and bearing: risk points, enterprises, hazard sources, public zones, open
    hidden dangers and emergency resources that the caller may read."""
    search = service.Search(
        *_wgs84(lon, lat, crs),
        radius_m=radius_m,
        limit=limit,
        kinds=tuple(dict.fromkeys(kinds.split(","))) if kinds else None,
        levels=tuple(dict.fromkeys(levels.split(","))) if levels else None,
    )
    return GeoJSONResponse(service.find_nearby(session, scope=scope, search=search))


@router.get("/emergency/nearest", response_class=GeoJSONResponse, response_model=NearbyCollection)
def nearest_emergency_resources(
    session: SearchSessionDep,
    scope: ScopeDep,
    lon: Lon,
    lat: Lat,
    kind: Annotated[EmergencyKind | None, Query(description="kind of resource")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    radius_m: Annotated[
        float, Query(gt=0, le=MAX_EMERGENCY_RADIUS_M, description="metres")
    ] = MAX_EMERGENCY_RADIUS_M,
    crs: PointCrs = "wgs84",
) -> GeoJSONResponse:
    """The emergency resources (应急资源) nearest to a point, by geodesic distance."""
    search = service.Search(
        *_wgs84(lon, lat, crs),
        radius_m=radius_m,
        limit=limit,
        kinds=("emergency_resources",),
        resource_kind=kind,
    )
    return GeoJSONResponse(service.find_nearby(session, scope=scope, search=search))
