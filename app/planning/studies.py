"""A hazard source's own study: external safety distances and individual-risk contours.

Uploaded from its risk assessment report (GB/T 37243-2019 distances; GB 36894-2018
individual-risk contours as polygons per level). Checks use them when stricter than the
setback table. Who may change the hazard source may upload its study.
"""

from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import atomic_write, check_written, get_or_raise
from app.errors import InvalidInput
from app.geo.location import ewkt, parse_location
from app.planning.rules import RISK_LEVELS
from app.planning.schemas import SafetyZonesIn
from app.sites.models import HazardSource


def _level_or_raise(value: float, index: int) -> float:
    for level in RISK_LEVELS:
        if abs(value - level) <= level * 1e-6:
            return level
    raise InvalidInput(
        f"{value:g} is not a GB 36894 individual-risk level",
        field=f"contours[{index}].risk_per_year",
        allowed=list(RISK_LEVELS),
    )


def replace_zones(
    session: Session, *, hazard_source_id: int, body: SafetyZonesIn, scope: Scope
) -> dict[str, Any]:
    """Replace a hazard source's study with the uploaded one."""
    source = get_or_raise(session, HazardSource, id=hazard_source_id, scope=scope)
    scope.require_write("hazard_sources")
    check_written(session, scope, source)
    classes = [d.target_class for d in body.distances]
    if len(set(classes)) != len(classes):
        raise InvalidInput("one distance per target class", field="distances")
    contours = []
    for i, contour in enumerate(body.contours):
        level = _level_or_raise(contour.risk_per_year, i)
        shape = parse_location(
            lon=None,
            lat=None,
            geometry=contour.geometry,
            crs=body.crs,
            allowed=("Polygon", "MultiPolygon"),
            field=f"contours[{i}].geometry",
        )
        multi = shapely.MultiPolygon([shape]) if shape.geom_type == "Polygon" else shape
        contours.append((level, ewkt(multi)))
    if len({level for level, _ in contours}) != len(contours):
        raise InvalidInput("one contour per risk level", field="contours")
    who = scope.username
    with atomic_write(session):
        session.execute(
            text("DELETE FROM hazard_safety_zones WHERE hazard_source_id = :id"),
            {"id": source.id},
        )
        for distance in body.distances:
            session.execute(
                text(
                    "INSERT INTO hazard_safety_zones (county_code, hazard_source_id, kind,"
                    " target_class, distance_m, reference, uploaded_by)"
                    " VALUES (:county, :id, 'distance', :cls, :m, :ref, :who)"
                ),
                {
                    "county": source.county_code,
                    "id": source.id,
                    "cls": distance.target_class,
                    "m": distance.distance_m,
                    "ref": body.reference,
                    "who": who,
                },
            )
        for level, geom in contours:
            session.execute(
                text(
                    "INSERT INTO hazard_safety_zones (county_code, hazard_source_id, kind,"
                    " risk_per_year, geom, reference, uploaded_by)"
                    " VALUES (:county, :id, 'contour', :level, ST_GeomFromEWKT(:geom), :ref, :who)"
                ),
                {
                    "county": source.county_code,
                    "id": source.id,
                    "level": level,
                    "geom": geom,
                    "ref": body.reference,
                    "who": who,
                },
            )
    return zones_of_source(session, hazard_source_id=source.id, scope=scope)


def zones_of_source(session: Session, *, hazard_source_id: int, scope: Scope) -> dict[str, Any]:
    """A hazard source's uploaded study."""
    source = get_or_raise(session, HazardSource, id=hazard_source_id, scope=scope)
    rows = session.execute(
        text(
            "SELECT kind, risk_per_year, target_class, distance_m, reference, uploaded_by,"
            " uploaded_at, ST_AsGeoJSON(geom, 7) AS geometry FROM hazard_safety_zones"
            " WHERE hazard_source_id = :id ORDER BY kind, risk_per_year DESC, target_class"
        ),
        {"id": source.id},
    ).mappings()
    distances, contours, reference = [], [], None
    for row in rows:
        reference = reference or row["reference"]
        if row["kind"] == "distance":
            distances.append({"target_class": row["target_class"], "distance_m": row["distance_m"]})
        else:
            contours.append(
                {
                    "risk_per_year": row["risk_per_year"],
                    "geometry": shapely.geometry.mapping(shapely.from_geojson(row["geometry"])),
                }
            )
    return {
        "hazard_source_id": source.id,
        "reference": reference,
        "distances": distances,
        "contours": contours,
    }
