"""Chemical parks (化工园区): located polygons with their safety-risk class, CRUD in scope."""

from typing import Any

import shapely
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import atomic_write, body_fields, render_located
from app.errors import InvalidInput
from app.geo.location import ewkt, parse_location
from app.planning.models import ChemicalPark
from app.planning.schemas import ParkIn

PARK_FIELDS = ("name", "risk_class", "score", "approval")


def render_park(row: ChemicalPark) -> dict[str, Any]:
    """A chemical park for the API."""
    return render_located(row, PARK_FIELDS)


def _outline(body: ParkIn) -> str | None:
    if body.geometry is None:
        return None
    shape = parse_location(
        lon=None,
        lat=None,
        geometry=body.geometry,
        crs=body.crs or "wgs84",
        allowed=("Polygon", "MultiPolygon"),
    )
    return ewkt(shapely.MultiPolygon([shape]) if shape.geom_type == "Polygon" else shape)


def create_park(session: Session, *, body: ParkIn, scope: Scope) -> ChemicalPark:
    """Register a chemical park; its county follows from its outline."""
    geom = _outline(body)
    if geom is None:
        raise InvalidInput("give the park's outline as a GeoJSON Polygon", field="geometry")
    with atomic_write(session):
        park = ChemicalPark(**body_fields(body), geom=geom)
        session.add(park)
        session.flush()
    session.refresh(park)
    return park


def update_park(session: Session, *, row: ChemicalPark, body: ParkIn, scope: Scope) -> ChemicalPark:
    """Change a park's class, name or outline."""
    geom = _outline(body)
    with atomic_write(session):
        for name, value in body_fields(body).items():
            setattr(row, name, value)
        if geom:
            row.geom = geom
        session.flush()
    session.refresh(row)
    return row


def delete_park(session: Session, *, row: ChemicalPark, scope: Scope) -> None:
    """Delete a park."""
    with atomic_write(session):
        session.delete(row)
        session.flush()
