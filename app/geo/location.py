"""Locations sent by clients: lon/lat or GeoJSON, in WGS 84, CGCS2000, GCJ-02 or BD-09."""

import json
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from app.errors import InvalidInput
from app.geo.chinese_datums import bd09_to_wgs84, gcj02_to_wgs84

Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
# A plant boundary or zone drawn by hand has hundreds of vertices; a million made every
# listing of its county tens of megabytes.
MAX_VERTICES = 10_000
_CONVERTERS = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def to_wgs84_geometry(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Convert every vertex from `crs` to WGS 84 (CGCS2000 is taken as equal, domain.md §9)."""
    converter = _CONVERTERS.get(crs)
    if converter is None:
        return geometry

    def convert(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(converter(coords[:, 0], coords[:, 1]))

    return shapely.transform(geometry, convert)


def parse_location(
    *,
    lon: float | None,
    lat: float | None,
    geometry: dict[str, Any] | None,
    crs: str,
    allowed: tuple[str, ...] = ("Point",),
    field: str = "geometry",
) -> BaseGeometry:
    """Build a valid WGS 84 geometry from lon/lat or a GeoJSON geometry."""
    if geometry is not None:
        try:
            shape = shapely.from_geojson(json.dumps(geometry))
        except (shapely.errors.GEOSException, TypeError, ValueError) as error:
            # The parser's own words name its internals, not the caller's mistake.
            raise InvalidInput(
                "not a GeoJSON geometry: give {type, coordinates} (RFC 7946)", field=field
            ) from error
    elif lon is not None and lat is not None:
        shape, field = shapely.Point(lon, lat), "lon,lat"
    else:
        raise InvalidInput("give lon and lat, or a GeoJSON geometry", field="lon,lat")
    if shapely.get_num_coordinates(shape) > MAX_VERTICES:
        raise InvalidInput(f"more than {MAX_VERTICES} vertices", field=field)
    # Heights are not stored: a 3-D position keeps its longitude and latitude.
    shape = shapely.force_2d(shape)
    if shape.geom_type not in allowed:
        raise InvalidInput(
            f"{shape.geom_type} is not allowed here", field=field, allowed=list(allowed)
        )
    if shape.is_empty:
        raise InvalidInput("the geometry has no coordinates", field=field)
    if not shape.is_valid:
        raise InvalidInput(f"invalid geometry ({shapely.is_valid_reason(shape)})", field=field)
    min_x, min_y, max_x, max_y = shape.bounds
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        raise InvalidInput("coordinates out of range (lon −180…180, lat −90…90)", field=field)
    return to_wgs84_geometry(shape, crs)


def ewkt(geometry: BaseGeometry) -> str:
    """Render a WGS 84 geometry as EWKT for PostGIS."""
    return f"SRID=4326;{geometry.wkt}"
