"""Web Mercator XYZ tile arithmetic."""

import math


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The x, y of the zoom-z tile containing a WGS 84 point."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    lat_rad = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(lat_rad)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_to_lonlat(z: int, x: float, y: float) -> tuple[float, float]:
    """The WGS 84 position of fractional tile coordinates (x, y) at zoom z."""
    n = 2**z
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lon, lat


def tiles_covering(
    min_lon: float, min_lat: float, max_lon: float, max_lat: float, z: int
) -> list[tuple[int, int]]:
    """Every zoom-z tile that intersects a bounding box."""
    x0, y0 = lonlat_to_tile(min_lon, max_lat, z)
    x1, y1 = lonlat_to_tile(max_lon, min_lat, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
