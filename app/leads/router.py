"""Endpoints of patrol leads and public tip-offs."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query, Request

from app.crud import Offset
from app.datetimes import CHINA_STANDARD_TIME
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.leads import service
from app.leads.schemas import DecisionIn, LeadIn, LeadKind, LeadSource, LeadStatus, TipOffIn

router = api_router(prefix="/api", tags=["leads"])

LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="lead id")]
Region = Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="region code or prefix")]


@router.get("/leads", name="list_leads")
def list_leads(
    session: SessionDep,
    scope: ScopeDep,
    status: LeadStatus | None = None,
    kind: LeadKind | None = None,
    source: LeadSource | None = None,
    region: Region = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Leads and tip-offs the caller reads (officials, admins; wardens: their county)."""
    return service.list_leads(
        session,
        scope=scope,
        limit=limit,
        offset=offset,
        status=status,
        kind=kind,
        source=source,
        region=region,
    )


@router.post("/leads", status_code=201, name="create_lead")
def create_lead(body: LeadIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Report a patrol lead (a warden: inside their grid cells)."""
    lead = service.create_lead(session, body=body, scope=scope)
    return service.render_lead(lead, scope=scope)


@router.get("/leads/{id}", name="get_lead")
def get_lead(id: LeadId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """One lead with the caller's next allowed decisions."""
    return service.render_lead(service.lead_or_raise(session, id=id, scope=scope), scope=scope)


@router.post("/leads/{id}/decision", name="decide_lead")
def decide_lead(
    id: LeadId, body: DecisionIn, session: SessionDep, scope: ScopeDep
) -> dict[str, Any]:
    """Confirm (optionally naming the enterprise), dismiss, or link a confirmed lead."""
    lead = service.lead_or_raise(session, id=id, scope=scope, for_update=True)
    lead = service.decide(
        session, lead=lead, body=body, scope=scope, now=datetime.now(CHINA_STANDARD_TIME)
    )
    return service.render_lead(lead, scope=scope)


@router.post("/tipoffs", status_code=201, name="create_tipoff")
def create_tipoff(body: TipOffIn, request: Request, session: SessionDep) -> dict[str, Any]:
    """A tip-off (举报) from anyone, no sign-in; a few an hour from one address (429)."""
    address = request.client.host if request.client else "unknown"
    return service.render_receipt(service.create_tipoff(session, body=body, address=address))
