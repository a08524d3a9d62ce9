"""Emergency resources (应急资源): rescue teams, experts, equipment, stores, shelters, hospitals.

Located rows like the others (county and grid set by the database, writes checked against
the scope by the CRUD routes); no level depends on them, so a write is the row alone.
"""

from typing import Any

from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import atomic_write, body_fields, body_location, render_located
from app.errors import InvalidInput
from app.sites.models import EmergencyResource
from app.sites.schemas import EmergencyResourceIn

RESOURCE_FIELDS = ("name", "kind", "capacity", "contact_person", "contact_phone")


def render_emergency_resource(row: EmergencyResource) -> dict[str, Any]:
    """An emergency resource for the API."""
    return render_located(row, RESOURCE_FIELDS)


def create_emergency_resource(
    session: Session, *, body: EmergencyResourceIn, scope: Scope
) -> EmergencyResource:
    """Register an emergency resource at a point."""
    geom = body_location(body)
    if geom is None:
        raise InvalidInput("give lon and lat, or a GeoJSON Point", field="lon,lat")
    with atomic_write(session):
        resource = EmergencyResource(**body_fields(body), geom=geom)
        session.add(resource)
        session.flush()
    session.refresh(resource)
    return resource


def update_emergency_resource(
    session: Session, *, row: EmergencyResource, body: EmergencyResourceIn, scope: Scope
) -> EmergencyResource:
    """Change an emergency resource (its fields, its place)."""
    geom = body_location(body)
    with atomic_write(session):
        for name, value in body_fields(body).items():
            setattr(row, name, value)
        if geom:
            row.geom = geom
        session.flush()
    session.refresh(row)
    return row


def delete_emergency_resource(session: Session, *, row: EmergencyResource, scope: Scope) -> None:
    """Delete an emergency resource."""
    with atomic_write(session):
        session.delete(row)
        session.flush()
