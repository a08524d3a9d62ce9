"""Looking up regions: by code, children, point location, geometry."""

import json

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.regions.models import GridCell, Region
from app.regions.schemas import Feature, Location, RegionOut, RegionRef

GEOMETRY_COLUMNS = {"full": Region.geom, "medium": Region.geom_medium, "coarse": Region.geom_coarse}


def get_region_or_raise(session: Session, *, code: str) -> Region:
    """Return the region with `code`, or raise NotFound naming it."""
    region = session.get(Region, code)
    if region is None:
        raise NotFound(f"region {code} not found", field="code")
    return region


def to_out(region: Region) -> RegionOut:
    """Render a region for the API."""
    return RegionOut(
        code=region.code, name=region.name, level=region.level, parent_code=region.parent_code
    )


def list_children(session: Session, *, code: str) -> list[RegionOut]:
    """Return the direct children of a region, by code."""
    get_region_or_raise(session, code=code)
    rows = session.scalars(
        select(Region).where(Region.parent_code == code).order_by(Region.code)
    ).all()
    return [to_out(r) for r in rows]


# The rule the located rows' region codes follow (migrations/sql/0017_bulk_writes.sql).
_LOCATE_SQL = text("""
    SELECT leaf_code, grid_at(point) AS grid_code
      FROM (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS point) p,
           LATERAL county_at(p.point) AS leaf_code
     WHERE leaf_code IS NOT NULL
""")


def require_in_china(session: Session, point_ewkt: str, *, field: str = "lon,lat") -> None:
    """422 naming `field` when no county contains the point (the one point-to-region rule):
    where a step was taken or an inspection made is a place in China, or a typo."""
    if session.scalar(text("SELECT county_at(ST_GeomFromEWKT(:g))"), {"g": point_ewkt}) is None:
        raise InvalidInput(f"the location {point_ewkt[10:]} lies outside China", field=field)


def locate(session: Session, *, lon: float, lat: float) -> Location:
    """Find the province, city, county (and grid cell) containing a WGS 84 point."""
    row = session.execute(_LOCATE_SQL, {"lon": lon, "lat": lat}).first()
    if row is None:
        raise NotFound(f"no region contains lon={lon}, lat={lat}", field="lon,lat")
    chain: list[Region] = []
    region: Region | None = session.get(Region, row.leaf_code)
    while region is not None:
        chain.append(region)
        region = session.get(Region, region.parent_code) if region.parent_code else None
    by_level = {r.level: RegionRef(code=r.code, name=r.name) for r in chain}
    leaf = chain[0]
    grid = None
    # A cell deleted since the query found it no longer contains the point: no grid.
    cell = session.get(GridCell, row.grid_code) if row.grid_code else None
    if cell is not None:
        grid = RegionRef(code=cell.code, name=cell.name)
    return Location(
        province=by_level["province"],
        city=by_level.get("city"),
        # A leaf that is a city (东莞) or a province (台湾) stands for its own county level.
        county=RegionRef(code=leaf.code, name=leaf.name),
        grid=grid,
    )


def region_feature(session: Session, *, code: str, detail: str = "full") -> Feature:
    """Return a region as a GeoJSON Feature, at full or generalised detail."""
    region = get_region_or_raise(session, code=code)
    geojson = session.scalar(
        select(GEOMETRY_COLUMNS[detail].ST_AsGeoJSON(7)).where(Region.code == code)
    )
    if geojson is None:  # every outline is NOT NULL: the row went since it was read
        raise NotFound(f"region {code} not found", field="code")
    return Feature(
        id=region.code,
        geometry=json.loads(geojson),
        properties={
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent_code": region.parent_code,
            "area_km2": round(region.area_km2, 3),
            "is_leaf": region.is_leaf,
            "code_version": region.code_version,
        },
    )
