"""Endpoints for inspections and the overdue lists."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from app.crud import Offset
from app.datetimes import CHINA_STANDARD_TIME, china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.inspections import service
from app.inspections.schemas import InspectionIn, InspectionKind, ScheduledKind
from app.orm import INT4_MAX

router = api_router(prefix="/api/inspections", tags=["inspections"])

Region = Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="region code or prefix")]
Grid = Annotated[str | None, Query(min_length=1, max_length=40, description="grid cell code")]
EnterpriseId = Annotated[int | None, Query(alias="enterprise", ge=1, le=INT4_MAX)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("", status_code=201, name="create_inspection")
def create_inspection(body: InspectionIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Record an inspection; its findings become reported hidden dangers in the same step."""
    return service.create_inspection(
        session, body=body, scope=scope, now=datetime.now(CHINA_STANDARD_TIME)
    )


@router.get("", name="list_inspections")
def list_inspections(
    session: SessionDep,
    scope: ScopeDep,
    region: Region = None,
    kind: InspectionKind | None = None,
    enterprise: EnterpriseId = None,
    grid: Grid = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The inspections the caller reads, newest first."""
    return service.list_inspections(
        session,
        scope=scope,
        limit=limit,
        offset=offset,
        region=region,
        kind=kind,
        enterprise_id=enterprise,
        grid=grid,
    )


@router.get("/overdue", name="overdue_inspections")
def overdue(
    session: SessionDep,
    scope: ScopeDep,
    region: Region = None,
    grid: Grid = None,
    enterprise: EnterpriseId = None,
    warden: Annotated[
        str | None, Query(min_length=1, max_length=64, description="a warden's username")
    ] = None,
    kind: ScheduledKind = "self_check",
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Enterprises overdue for a self-check (or spot check) by their colour's frequency, in
    a region, grid cell, enterprise or a warden's grid cells."""
    return service.overdue(
        session,
        scope=scope,
        today=china_today(),
        kind=kind,
        limit=limit,
        offset=offset,
        region=region,
        grid=grid,
        enterprise_id=enterprise,
        warden=warden,
    )
