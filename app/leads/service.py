"""Leads: wardens report what changed in their grid, the public tips off, officials decide.

A lead is `new` until an official of its region confirms it (optionally naming the
enterprise it is about, or linking one later) or dismisses it. Wardens send leads from
inside their grid cells; the public sends tip-offs without signing in, limited per address
(`TIPOFFS_PER_HOUR`). Everyone who reads leads (admins, officials of the region, wardens of
the county) reads them with the one scope's region filter; only officials and admins see a
tip-off's contact.
"""

import hashlib
from datetime import datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.auth import tokens
from app.auth.scope import Scope
from app.crud import atomic_write
from app.errors import Conflict, Forbidden, InvalidInput, TooManyRequests
from app.geo.location import ewkt, parse_location
from app.leads import rules
from app.leads.models import Lead
from app.leads.schemas import DecisionIn, LeadIn, TipOffIn
from app.sites.service import enterprise_or_raise

TABLE = "leads"
READERS = ("admin", "official", "warden")
DECIDERS = ("admin", "official")
TIPOFFS_PER_HOUR = 5
# action → (statuses it may be taken from, status it leads to)
DECISIONS = {
    "confirm": (("new",), "confirmed"),
    "dismiss": (("new",), "dismissed"),
    "link": (("confirmed",), "confirmed"),
}


def render_lead(row: Lead, *, scope: Scope) -> dict[str, Any]:
    """A lead for the API (the sender's contact for deciders only)."""
    geom: Any = row.geom  # a WKBElement as loaded
    point = to_shape(geom)
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_zh": rules.kinds()[row.kind].name_zh,
        "source": row.source,
        "status": row.status,
        "description": row.description,
        "name": row.name,
        "address": row.address,
        "contact": row.contact if scope.role in DECIDERS else None,
        "enterprise_id": row.enterprise_id,
        "username": row.username,
        "county_code": row.county_code,
        "grid_code": row.grid_code,
        "lon": round(point.x, 7),
        "lat": round(point.y, 7),
        "created_at": row.created_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision_note": row.decision_note,
        "actions": next_actions(row, scope),
    }


def next_actions(row: Lead, scope: Scope) -> list[str]:
    """The decisions this caller may take on the lead now."""
    if scope.role not in DECIDERS:
        return []
    return [action for action, (before, _) in DECISIONS.items() if row.status in before]


def _geom(body: LeadIn | TipOffIn) -> str:
    return ewkt(parse_location(lon=body.lon, lat=body.lat, geometry=None, crs=body.crs))


def _insert(session: Session, lead: Lead) -> Lead:
    """Insert in a savepoint: a point outside China is a 422 naming the location."""
    with atomic_write(session):
        session.add(lead)
        session.flush()
    # The database placed it: county, grid cell, times.
    session.refresh(lead)
    return lead


def create_lead(session: Session, *, body: LeadIn, scope: Scope) -> Lead:
    """A warden's (or official's) lead; a warden's must lie in their grid cells."""
    scope.require_role("warden", "official", "admin")
    if body.enterprise_id is not None:
        enterprise_or_raise(session, body.enterprise_id, scope)
    lead = _insert(
        session,
        Lead(
            kind=body.kind,
            source="warden" if scope.role == "warden" else "official",
            description=body.description,
            name=body.name,
            address=body.address,
            enterprise_id=body.enterprise_id,
            user_id=scope.user_id,
            username=scope.username,
            geom=_geom(body),
        ),
    )
    if scope.role == "warden" and lead.grid_code not in scope.grid_cells:
        raise Forbidden(f"the location lies outside {scope.username}'s grid cells", field="lon,lat")
    if scope.write_prefix is None or not lead.county_code.startswith(scope.write_prefix):
        raise Forbidden(
            f"the location lies in county {lead.county_code}, outside {scope.username}'s region",
            field="lon,lat",
        )
    return lead


def client_hash(address: str) -> str:
    """The sender's address, keyed with the signing secret (not reversible by a reader)."""
    return hashlib.sha256(f"{tokens.signing_key()}|{address}".encode()).hexdigest()


def create_tipoff(session: Session, *, body: TipOffIn, address: str) -> Lead:
    """A public tip-off (举报): at most TIPOFFS_PER_HOUR per address, else 429."""
    digest = client_hash(address)
    recent = session.scalar(
        select(func.count())
        .select_from(Lead)
        .where(Lead.client_hash == digest, Lead.created_at > func.now() - text("interval '1 hour'"))
    )
    if (recent or 0) >= TIPOFFS_PER_HOUR:
        raise TooManyRequests(
            f"at most {TIPOFFS_PER_HOUR} tip-offs an hour from one address; retry later",
            retry_after_s=3600,
        )
    return _insert(
        session,
        Lead(
            kind=body.kind,
            source="public",
            description=body.description,
            name=body.name,
            address=body.address,
            contact=body.contact,
            client_hash=digest,
            geom=_geom(body),
        ),
    )


def render_receipt(row: Lead) -> dict[str, Any]:
    """What the public sender gets back: a number to quote, nothing else stored."""
    return {"id": row.id, "status": row.status, "received_at": row.created_at.isoformat()}


def _readable(scope: Scope, region: str | None = None) -> Any:
    scope.require_role(*READERS)
    filters = scope.filters(TABLE, region=region, has_level=False, has_sector=False)
    return filters.condition(TABLE, has_level=False)


def list_leads(
    session: Session,
    *,
    scope: Scope,
    limit: int,
    offset: int,
    status: str | None = None,
    kind: str | None = None,
    source: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """A page of the leads the caller reads, newest first."""
    statement = select(Lead).where(_readable(scope, region))
    for column, value in ((Lead.status, status), (Lead.kind, kind), (Lead.source, source)):
        if value is not None:
            statement = statement.where(column == value)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(
        statement.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
    )
    return {
        "items": [render_lead(row, scope=scope) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def lead_or_raise(session: Session, *, id: int, scope: Scope, for_update: bool = False) -> Lead:
    """The lead if the caller reads it, else 404."""
    statement = select(Lead).where(Lead.id == id, _readable(scope))
    row = session.scalars(statement.with_for_update() if for_update else statement).first()
    if row is None:
        raise scope.not_found(TABLE, id)
    return row


def decide(session: Session, *, lead: Lead, body: DecisionIn, scope: Scope, now: datetime) -> Lead:
    """Confirm, dismiss or link a lead: 409 naming the legal actions when not legal now."""
    scope.require_role(*DECIDERS)
    before, after = DECISIONS[body.action]
    if lead.status not in before:
        raise Conflict(
            f"{body.action} is not allowed while the lead is {lead.status}",
            field="action",
            allowed=next_actions(lead, scope),
        )
    if body.action == "link" and body.enterprise_id is None:
        raise InvalidInput("name the enterprise to link", field="enterprise_id")
    if body.enterprise_id is not None:
        if body.action == "dismiss":
            raise InvalidInput("a dismissed lead names no enterprise", field="enterprise_id")
        enterprise_or_raise(session, body.enterprise_id, scope)
        lead.enterprise_id = body.enterprise_id
    lead.status = after
    lead.decided_by = scope.username
    lead.decided_at = now
    lead.decision_note = body.note
    lead.version += 1
    session.flush()
    return lead
