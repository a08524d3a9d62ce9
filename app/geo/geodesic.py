"""Rigorous bounds between geodesic distance on WGS 84 and distance in lon/lat degrees.

Nearby searches use the GiST index on `geom` (degrees) to find candidates and PostGIS
geography (metres on the ellipsoid) to rank them. Both bounds below follow from the
metric of the ellipsoid, ds² = M(φ)² dφ² + N(φ)² cos²φ dλ², with M ≥ M_MIN and N ≥ a:

- along any path of length s, |Δφ| ≤ s / M_MIN and |Δλ| ≤ s / (a · cos φ_max), where
  φ_max bounds |φ| on the path (it moves at most s / M_MIN from the start);
- hence ds ≥ M_MIN · cos φ_max · |d(λ, φ)|, and any point at geodesic distance s ≤ r lies
  at least s ≥ M_MIN · cos φ_max · (its distance in degrees, as radians) away.
"""

import math
from dataclasses import dataclass

WGS84_A = 6_378_137.0
WGS84_E2 = 0.0066943799901413165
# The smallest meridional radius of curvature, a(1 − e²), at the equator.
M_MIN = WGS84_A * (1 - WGS84_E2)
# Keeps cos φ_max positive; China lies below 54° N.
_MAX_LATITUDE = 89.0


@dataclass(frozen=True)
class SearchBox:
    """A lon/lat rectangle holding every point within `radius_m` of the centre, and the
    factor turning a distance in degrees into a lower bound of the geodesic distance."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    metres_per_degree_at_least: float

    def geodesic_lower_bound(self, degrees: float) -> float:
        """The least geodesic distance (m) of any point within the radius that lies
        `degrees` away from the centre in the lon/lat plane."""
        return degrees * self.metres_per_degree_at_least


def search_box(lon: float, lat: float, radius_m: float) -> SearchBox:
    """The box and bound of a search around (lon, lat) within `radius_m` metres."""
    d_lat = math.degrees(radius_m / M_MIN)
    phi_max = min(abs(lat) + d_lat, _MAX_LATITUDE)
    cos_max = math.cos(math.radians(phi_max))
    d_lon = math.degrees(radius_m / (WGS84_A * cos_max))
    return SearchBox(
        min_lon=lon - d_lon,
        min_lat=lat - d_lat,
        max_lon=lon + d_lon,
        max_lat=lat + d_lat,
        metres_per_degree_at_least=math.radians(1) * M_MIN * cos_max,
    )
