"""Demo grids for every county the demo loaded enterprises into, so every county has grid
cells and wardens (app/auth/demo.py makes warden-<county>-<n> for each gridded county):
a newcomer opening /m anywhere in the demo sees their cell."""

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.regions.grids import generate_grid

# About this many square cells per county: enough to split between the county's wardens,
# few enough that set-up stays quick.
CELLS_PER_COUNTY = 16
MIN_CELL_M = 2000


def cell_size_for(area_km2: float) -> int:
    """A cell side (metres, a multiple of 500) giving about CELLS_PER_COUNTY cells."""
    side = math.sqrt(area_km2 * 1e6 / CELLS_PER_COUNTY)
    return max(MIN_CELL_M, round(side / 500) * 500)


def grid_demo_counties(session: Session) -> list[str]:
    """Grid each county that has enterprises and no grid cells yet; the counties gridded."""
    counties = session.execute(
        text("""
        SELECT r.code, ST_Area(r.geom::geography) / 1e6 AS km2
          FROM regions r
         WHERE r.code IN (SELECT DISTINCT county_code FROM enterprises)
           AND NOT EXISTS (SELECT 1 FROM grid_cells g WHERE g.county_code = r.code)
         ORDER BY r.code""")
    ).all()
    for code, km2 in counties:
        generate_grid(session, county_code=code, cell_size_m=cell_size_for(km2))
    return [code for code, _ in counties]
