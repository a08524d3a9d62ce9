"""Enterprises, major hazard sources and public zones: writes that keep every level derived.

Every write runs in one savepoint together with the re-derivation it causes (hazard-source
grades, enterprise levels) and the aggregate triggers, so it lands whole or not at all.
"""

from collections.abc import Iterable
from typing import Any

import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.cluster.routing import distributed_tables
from app.crud import (
    atomic_write,
    body_fields,
    body_location,
    duplicate,
    geometry_json,
    get_or_raise,
    render_located,
)
from app.errors import InvalidInput, NotFound
from app.geo.location import ewkt, parse_location
from app.risk import gb18218, grading
from app.sites.credit_code import is_valid_credit_code
from app.sites.models import Enterprise, HazardSource, PublicZone
from app.sites.schemas import EnterpriseIn, HazardAssessIn, HazardSourceIn, PublicZoneIn

PUBLIC_ZONE_GEOMETRIES = ("Point", "Polygon", "MultiPolygon", "LineString", "MultiLineString")
PERSON_FIELDS = ("responsible_person", "responsible_phone", "government_person")
ENTERPRISE_FIELDS = (
    "name",
    "credit_code",
    "sector",
    "address",
    "park",
    "employees",
    *PERSON_FIELDS,
    "risk_level",
    "level_basis",
)
HAZARD_FIELDS = (
    "enterprise_id",
    "name",
    "unit_type",
    "substances",
    "s_value",
    "r_value",
    "alpha",
    "exposed_people",
    "grade",
    "risk_level",
    *PERSON_FIELDS,
)
# The advisory-lock class of credit codes: pg_advisory_xact_lock(class, hashtext(code)).
CREDIT_CODE_LOCK = 1701
ZONE_FIELDS = (
    "name",
    "kind",
    "population",
    "capacity",
    "address",
    "managing_department",
    "risk_level",
)


def render_enterprise(row: Enterprise) -> dict[str, Any]:
    """An enterprise for the API."""
    return {**render_located(row, ENTERPRISE_FIELDS), "footprint": geometry_json(row.footprint)}


def render_hazard_source(row: HazardSource) -> dict[str, Any]:
    """A major hazard source for the API."""
    return render_located(row, HAZARD_FIELDS)


def render_public_zone(row: PublicZone) -> dict[str, Any]:
    """A public zone for the API."""
    return render_located(row, ZONE_FIELDS)


def _apply(row: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, value)


# Enterprises


def _footprint(body: EnterpriseIn) -> str | None:
    if getattr(body, "footprint", None) is None:
        return None
    shape = parse_location(
        lon=None,
        lat=None,
        geometry=body.footprint,
        crs=body.crs or "wgs84",
        allowed=("Polygon", "MultiPolygon"),
        field="footprint",
    )
    return ewkt(shapely.MultiPolygon([shape]) if shape.geom_type == "Polygon" else shape)


def _check_credit_code(code: str | None) -> None:
    if code is not None and not is_valid_credit_code(code):
        raise InvalidInput(
            f"{code!r} is not a valid unified social credit code (GB 32100)", field="credit_code"
        )


def hold_credit_codes(session: Session, codes: Iterable[str]) -> bool:
    """Where only `check_credit_code_free` keeps credit codes unique (a Citus database),
    lock `codes` until the transaction ends and return True; on one PostgreSQL the unique
    index does: False, nothing locked.

    Every write passes through the coordinator, so its advisory locks serialize the writers
    of one code across all counties; taken in the order of their keys, they cannot deadlock.
    """
    if "enterprises" not in distributed_tables(session.connection()):
        return False
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:lock, k) FROM (SELECT DISTINCT hashtext(c) AS k"
            " FROM unnest(CAST(:codes AS text[])) c) x ORDER BY k"
        ),
        {"lock": CREDIT_CODE_LOCK, "codes": sorted(set(codes))},
    )
    return True


def check_credit_code_free(session: Session, code: str, enterprise_id: int | None) -> None:
    """A credit code names one enterprise in the whole country: 409 if another has it.

    On one PostgreSQL the unique index on credit_code refuses a duplicate (atomic_write
    turns it into this same 409). On Citus a unique index must hold the distribution
    column, so it holds per county only (migration 0020): there the code is locked, then
    looked up in every county. A second writer of the code waits on the lock until the
    first commits, then finds its row (each statement reads what is committed).
    """
    if not hold_credit_codes(session, [code]):
        return
    others = select(Enterprise.id).where(Enterprise.credit_code == code)
    if enterprise_id is not None:
        others = others.where(Enterprise.id != enterprise_id)
    if session.scalar(others.limit(1)) is not None:
        raise duplicate("credit_code")


def create_enterprise(session: Session, *, body: EnterpriseIn, scope: Scope) -> Enterprise:
    """Register an enterprise; its level follows from its risk points and hazard sources."""
    _check_credit_code(body.credit_code)
    geom, footprint = body_location(body), _footprint(body)
    if geom is None:
        raise InvalidInput("give lon and lat, or a GeoJSON Point", field="lon,lat")
    check_credit_code_free(session, body.credit_code, None)
    with atomic_write(session):
        enterprise = Enterprise(**body_fields(body, "footprint"), geom=geom, footprint=footprint)
        session.add(enterprise)
        session.flush()
        grading.refresh_enterprise_levels(session, ids=[enterprise.id])
    session.refresh(enterprise)
    return enterprise


def update_enterprise(
    session: Session, *, row: Enterprise, body: EnterpriseIn, scope: Scope
) -> Enterprise:
    """Change an enterprise; a moved plant re-grades its hazard sources (α)."""
    enterprise, id = row, row.id
    _check_credit_code(body.credit_code)
    if body.credit_code is not None and body.credit_code != enterprise.credit_code:
        check_credit_code_free(session, body.credit_code, id)
    geom, footprint = body_location(body), _footprint(body)
    with atomic_write(session):
        _apply(enterprise, body_fields(body, "footprint"))
        if geom:
            enterprise.geom = geom
        if footprint:
            enterprise.footprint = footprint
        session.flush()
        if geom or footprint:
            hazard_ids = list(
                session.scalars(select(HazardSource.id).where(HazardSource.enterprise_id == id))
            )
            if hazard_ids:
                grading.regrade_hazard_sources(session, ids=hazard_ids)
        grading.refresh_enterprise_levels(session, ids=[id])
    session.refresh(enterprise)
    return enterprise


# Major hazard sources (重大危险源)


def _check_substances(raw: list[dict[str, Any]]) -> None:
    """Reject substances GB 18218 cannot grade, or that do not make a major hazard source
    (S = Σ q/Q < 1, GB 18218-2018 identification), before anything is written."""
    assessment = gb18218.assess_hazard_source(grading.parse_substances(raw), 0)
    if not assessment.is_major:
        raise InvalidInput(
            f"S = Σ q/Q = {assessment.s:.6g} < 1: by GB 18218-2018 this unit is not a major "
            "hazard source and is not registered as one (check it with /api/hazard-sources/assess)",
            field="substances",
        )


def enterprise_or_raise(session: Session, enterprise_id: int, scope: Scope) -> Enterprise:
    """The enterprise a row refers to, if the scope reads it; else 422 naming the field."""
    try:
        enterprise: Enterprise = get_or_raise(session, Enterprise, id=enterprise_id, scope=scope)
    except NotFound as error:
        raise InvalidInput(
            f"enterprise {enterprise_id} does not exist", field="enterprise_id"
        ) from error
    return enterprise


def create_hazard_source(session: Session, *, body: HazardSourceIn, scope: Scope) -> HazardSource:
    """Register a major hazard source (at its enterprise unless located) and grade it."""
    enterprise = enterprise_or_raise(session, body.enterprise_id, scope)
    _check_substances(body.substances)
    geom = body_location(body)
    with atomic_write(session):
        source = HazardSource(**body_fields(body), geom=geom or enterprise.geom)
        session.add(source)
        session.flush()
        grading.regrade_hazard_sources(session, ids=[source.id])
        grading.refresh_enterprise_levels(session, ids=[enterprise.id])
    session.refresh(source)
    return source


def update_hazard_source(
    session: Session, *, row: HazardSource, body: HazardSourceIn, scope: Scope
) -> HazardSource:
    """Change a hazard source and re-grade it and its enterprise(s)."""
    source, id = row, row.id
    previous_enterprise = source.enterprise_id
    if body.enterprise_id is not None:
        enterprise_or_raise(session, body.enterprise_id, scope)
    if body.substances is not None:
        _check_substances(body.substances)
    geom = body_location(body)
    with atomic_write(session):
        _apply(source, body_fields(body))
        if geom:
            source.geom = geom
        session.flush()
        grading.regrade_hazard_sources(session, ids=[id])
        grading.refresh_enterprise_levels(
            session, ids=sorted({previous_enterprise, source.enterprise_id})
        )
    session.refresh(source)
    return source


def assess_hazard(session: Session, *, body: HazardAssessIn, scope: Scope) -> dict[str, Any]:
    """Identify and grade a unit without storing it; α from people or from a geometry."""
    substances = grading.parse_substances(body.substances)
    if body.exposed_people is not None:
        exposure = grading.exposure_given(body.exposed_people)
    elif body.geometry is not None:
        plant = parse_location(
            lon=None,
            lat=None,
            geometry=body.geometry,
            crs=body.crs,
            allowed=("Point", "Polygon", "MultiPolygon"),
        )
        # Counted from the zones the caller may read: no population oracle.
        scope.require_read("public_zones")
        exposure = grading.exposed_people_around(
            session, plant_ewkt=ewkt(plant), visible=scope.filters("public_zones")
        )
    else:
        raise InvalidInput("give exposed_people or the plant geometry", field="exposed_people")
    result = gb18218.assess_hazard_source(substances, exposure["people"])
    return {**grading.hazard_result(result), "exposure": exposure}


# Public zones (公共区域), graded by government


def create_public_zone(session: Session, *, body: PublicZoneIn, scope: Scope) -> PublicZone:
    """Register a public zone; hazard sources within 500 m are re-graded (α)."""
    geom = body_location(body, PUBLIC_ZONE_GEOMETRIES)
    if geom is None:
        raise InvalidInput("give lon and lat, or a GeoJSON geometry", field="geometry")
    with atomic_write(session):
        zone = PublicZone(**body_fields(body), geom=geom)
        session.add(zone)
        session.flush()
        _regrade_around(session, geom)
    session.refresh(zone)
    return zone


def update_public_zone(
    session: Session, *, row: PublicZone, body: PublicZoneIn, scope: Scope
) -> PublicZone:
    """Change a public zone; hazard sources near its old and new place are re-graded."""
    zone, id = row, row.id
    old_geom = _ewkt_of(session, PublicZone, id)
    geom = body_location(body, PUBLIC_ZONE_GEOMETRIES)
    with atomic_write(session):
        _apply(zone, body_fields(body))
        if geom:
            zone.geom = geom
        session.flush()
        _regrade_around(session, old_geom)
        if geom:
            _regrade_around(session, geom)
    session.refresh(zone)
    return zone


def _regrade_around(session: Session, geometry_ewkt: str) -> None:
    enterprises = grading.regrade_hazard_sources_near(session, geometry_ewkt=geometry_ewkt)
    grading.refresh_enterprise_levels(session, ids=enterprises)


# Shared reads and deletes


def _ewkt_of(session: Session, model: type[Any], id: int) -> str:
    """A stored row's geometry as EWKT (the row exists: it was just read)."""
    return str(session.scalar(select(model.geom.ST_AsEWKT()).where(model.id == id)))


def delete_located(model: type[Any], session: Session, *, row: Any, scope: Scope) -> None:
    """Delete an enterprise, hazard source or public zone and re-derive what depended on it."""
    id = row.id
    geom = _ewkt_of(session, model, id)
    enterprise_id = getattr(row, "enterprise_id", None)
    with atomic_write(session):
        session.delete(row)
        session.flush()
        if model is PublicZone:
            _regrade_around(session, geom)
        elif enterprise_id is not None:
            grading.refresh_enterprise_levels(session, ids=[enterprise_id])
