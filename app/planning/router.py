"""Endpoints of planning checks, rule sets, chemical parks, safety studies and reports."""

from typing import Annotated, Any

from fastapi import Query, Response

from app.crud import RowId, add_crud_routes
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.planning import parks, reports, rules, service, studies
from app.planning.models import ChemicalPark
from app.planning.schemas import (
    CheckIn,
    CheckOut,
    ParkIn,
    ParkOut,
    ParkPatch,
    ReportIn,
    ReportOut,
    ReportPage,
    RuleSetIn,
    RuleSetList,
    RuleSetSummary,
    SafetyZonesIn,
    SafetyZonesOut,
)

router = api_router(prefix="/api/planning", tags=["planning"])


@router.get("/kinds")
def list_kinds(session: SessionDep) -> dict[str, Any]:
    """Kinds of proposed projects, their attributes and the protection-target classes."""
    current = rules.rule_set(session)
    return {
        "rule_set_version": current.version,
        "kinds": current.kinds,
        "target_classes": current.target_classes,
    }


@router.get("/rule-sets", response_model=RuleSetList)
def list_rule_sets(session: SessionDep) -> dict[str, Any]:
    """The rule-set versions: the built-in one and every published one, newest first."""
    return rules.list_versions(session)


@router.post("/rule-sets", status_code=201, response_model=RuleSetSummary)
def publish_rule_set(body: RuleSetIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Publish a new rule-set version (admins); checks use it from now on."""
    scope.require_role("admin")
    row = rules.publish(
        session,
        version=body.version,
        note=body.note,
        setbacks=[s.model_dump() for s in body.setbacks] if body.setbacks else None,
        park_allowed_classes=body.park_allowed_classes,
        published_by=scope.username,
    )
    return rules.summary(row)


@router.post("/check", response_model=CheckOut)
def check_project(body: CheckIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Check a proposed project's site against setbacks and zoning, both ways (writes nothing)."""
    return service.check(
        session,
        scope=scope,
        kind=body.kind,
        attributes=body.attributes,
        geometry=body.geometry,
        crs=body.crs,
        rule_set_version=body.rule_set_version,
    )


@router.get("/zones/{hazard_source_id}")
def hazard_zones(hazard_source_id: RowId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """A hazard source's setback zones per target class and the targets already inside."""
    return service.zones_of(session, scope=scope, hazard_source_id=hazard_source_id)


@router.get("/hazard-sources/{id}/safety-zones", response_model=SafetyZonesOut)
def get_safety_zones(id: RowId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """A hazard source's own external safety distances and risk contours."""
    return studies.zones_of_source(session, hazard_source_id=id, scope=scope)


@router.put("/hazard-sources/{id}/safety-zones", response_model=SafetyZonesOut)
def put_safety_zones(
    id: RowId, body: SafetyZonesIn, session: SessionDep, scope: ScopeDep
) -> dict[str, Any]:
    """Upload a hazard source's study (replaces the previous one)."""
    return studies.replace_zones(session, hazard_source_id=id, body=body, scope=scope)


@router.post("/reports", status_code=201, response_model=ReportOut)
def save_report(body: ReportIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Check a project and save the result as a report (planners, officials, admins)."""
    return reports.render_report(reports.save_report(session, body=body, scope=scope))


@router.get("/reports", response_model=ReportPage)
def list_reports(
    session: SessionDep,
    scope: ScopeDep,
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Saved reports of a region, newest first."""
    return reports.list_reports(session, scope=scope, region=region, limit=limit, offset=offset)


@router.get("/reports/{id}.pdf", response_class=Response)
def report_pdf(id: RowId, session: SessionDep, scope: ScopeDep) -> Response:
    """A saved report as a vector PDF."""
    report = reports.report_or_raise(session, id=id, scope=scope)
    return Response(
        reports.render_pdf(session, report),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="planning-report-{id}.pdf"'},
    )


@router.get("/reports/{id}", response_model=ReportOut)
def get_report(id: RowId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """A saved report."""
    return reports.render_report(reports.report_or_raise(session, id=id, scope=scope))


add_crud_routes(
    router,
    path="/parks",
    model=ChemicalPark,
    render=parks.render_park,
    create=parks.create_park,
    update=parks.update_park,
    delete=parks.delete_park,
    create_schema=ParkIn,
    patch_schema=ParkPatch,
    name="chemical_parks",
    out_schema=ParkOut,
)
