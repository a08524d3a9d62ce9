"""Management grids (网格): generated square cells per county, or imported polygons.

Every cell lies in exactly one county: generated cells are clipped to it; imported cells
are assigned to the county containing a point on their surface and clipped to it.
"""

import json
from typing import Any

import shapely
from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.regions.service import get_region_or_raise

LOCATED_TABLES = (
    "enterprises",
    "hazard_sources",
    "public_zones",
    "risk_points",
    "hidden_dangers",
    "emergency_resources",
)

# Square cells are laid out in the UTM zone of the county's centre, so they are square in
# metres; ST_SquareGrid's (i, j) become (row, col) counted from the north-west corner.
_GENERATE_SQL = text("""
    WITH county AS (
        SELECT code, geom,
               32600 + floor((ST_X(ST_Centroid(geom)) + 180) / 6)::int + 1 AS utm
          FROM regions WHERE code = :county),
    projected AS (SELECT code, utm, ST_Transform(geom, utm) AS geom FROM county),
    cells AS (
        SELECT p.code, p.utm, g.i, g.j, ST_Intersection(g.geom, p.geom) AS geom
          FROM projected p, ST_SquareGrid(:size, p.geom) AS g
         WHERE ST_Intersects(g.geom, p.geom)),
    areal AS (
        SELECT code, utm, i, j, ST_CollectionExtract(geom, 3) AS geom FROM cells
         WHERE NOT ST_IsEmpty(ST_CollectionExtract(geom, 3))),
    numbered AS (
        SELECT code, utm, geom, max(j) OVER () - j AS row, i - min(i) OVER () AS col FROM areal)
    INSERT INTO grid_cells (code, name, county_code, source, cell_size_m, geom)
    SELECT code || '-' || row || '-' || col,
           :county_name || '网格' || (row + 1) || '-' || (col + 1),
           code, 'generated', :size,
           ST_Multi(ST_Transform(geom, 4326))
      FROM numbered
""")

_REASSIGN_SQL = """
    UPDATE {table} t
       SET grid_code = (SELECT g.code FROM grid_cells g
                         WHERE g.county_code = t.county_code AND g.geom && t.geom
                           AND ST_Intersects(g.geom, CASE WHEN GeometryType(t.geom) = 'POINT'
                                                     THEN t.geom ELSE ST_PointOnSurface(t.geom) END)
                         ORDER BY g.code LIMIT 1)
     WHERE t.county_code = ANY(:counties)
"""


def generate_grid(session: Session, *, county_code: str, cell_size_m: int) -> int:
    """Replace a county's generated grid with square cells of `cell_size_m` metres."""
    county = get_region_or_raise(session, code=county_code)
    if not county.is_leaf:
        raise InvalidInput(
            f"{county_code} {county.name} is a {county.level}, not a county-level unit",
            field="county_code",
        )
    if not 100 <= cell_size_m <= 50_000:
        raise InvalidInput("cell size must be between 100 and 50000 metres", field="cell_size_m")
    session.execute(
        text("DELETE FROM grid_cells WHERE county_code = :county AND source = 'generated'"),
        {"county": county_code},
    )
    result = session.execute(
        _GENERATE_SQL, {"county": county_code, "county_name": county.name, "size": cell_size_m}
    )
    if not isinstance(result, CursorResult):  # what a statement run on a connection gives
        raise TypeError(f"expected a CursorResult, got {type(result).__name__}")
    created = result.rowcount
    reassign_grid_codes(session, county_codes=[county_code])
    return created


def import_grids(session: Session, *, feature_collection: dict[str, Any]) -> int:
    """Import grid polygons from a GeoJSON FeatureCollection (properties: code, name, warden…)."""
    features = feature_collection.get("features")
    if feature_collection.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise InvalidInput("expected a GeoJSON FeatureCollection", field="type")
    rows = []
    for index, feature in enumerate(features):
        properties = feature.get("properties") or {}
        code = str(properties.get("code") or "").strip()
        if not code or len(code) > 40:
            raise InvalidInput(
                "each grid needs a code of 1–40 characters",
                field=f"features[{index}].properties.code",
            )
        try:
            geometry = shapely.from_geojson(json.dumps(feature.get("geometry")))
        except (shapely.errors.GEOSException, TypeError, ValueError) as error:
            raise InvalidInput(
                f"invalid geometry: {error}", field=f"features[{index}].geometry"
            ) from error
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
            raise InvalidInput(
                "grid geometry must be a valid (Multi)Polygon", field=f"features[{index}].geometry"
            )
        rows.append(
            {
                "code": code,
                "name": str(properties.get("name") or code),
                "warden_name": properties.get("warden_name"),
                "warden_phone": properties.get("warden_phone"),
                "wkb": shapely.to_wkb(geometry, hex=True),
                "index": index,
            }
        )
    counties = set()
    for row in rows:
        county = session.execute(
            text("""
            SELECT county_at(region_anchor(ST_SetSRID(CAST(:wkb AS geometry), 4326)))"""),
            row,
        ).scalar()
        if county is None:
            raise InvalidInput(
                "grid lies outside every county", field=f"features[{row['index']}].geometry"
            )
        counties.add(county)
        session.execute(
            text("""
            INSERT INTO grid_cells (code, name, county_code, source, warden_name, warden_phone,
                                    geom)
            SELECT :code, :name, r.code, 'imported', :warden_name, :warden_phone,
                   ST_Multi(ST_CollectionExtract(
                       ST_Intersection(ST_SetSRID(CAST(:wkb AS geometry), 4326), r.geom), 3))
              FROM regions r WHERE r.code = :county
            ON CONFLICT (code) DO UPDATE SET
                name = EXCLUDED.name, county_code = EXCLUDED.county_code,
                warden_name = EXCLUDED.warden_name, warden_phone = EXCLUDED.warden_phone,
                geom = EXCLUDED.geom"""),
            {**row, "county": county},
        )
    reassign_grid_codes(session, county_codes=sorted(counties))
    return len(rows)


def reassign_grid_codes(session: Session, *, county_codes: list[str]) -> None:
    """Re-derive grid_code of every located row in these counties after a grid change."""
    for table in LOCATED_TABLES:
        session.execute(text(_REASSIGN_SQL.format(table=table)), {"counties": county_codes})
