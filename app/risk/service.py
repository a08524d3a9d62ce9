"""Risk points (风险点): graded from their inputs on every write, with history."""

from typing import Any

from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import (
    atomic_write,
    body_fields,
    body_location,
    render_located,
)
from app.errors import InvalidInput
from app.risk import grading
from app.risk.models import RiskPoint
from app.risk.schemas import RiskPointIn
from app.sites.models import Enterprise
from app.sites.service import PERSON_FIELDS, enterprise_or_raise

RISK_POINT_FIELDS = (
    "enterprise_id",
    "name",
    "hazard_type",
    "control_measures",
    "method",
    "inputs",
    "score",
    "risk_level",
    *PERSON_FIELDS,
)


def render_risk_point(row: RiskPoint) -> dict[str, Any]:
    """A risk point for the API."""
    return render_located(row, RISK_POINT_FIELDS)


def _grade(session: Session, point: RiskPoint, assessed_by: str) -> None:
    score, level, result = grading.grade_risk_point(point.method, point.inputs)
    point.score, point.risk_level = score, level
    session.flush()
    grading.record_assessment(
        session,
        subject_type="risk_point",
        subject_id=point.id,
        method=point.method,
        inputs=point.inputs,
        result=result,
        level=level,
        assessed_by=assessed_by,
    )


def _enterprise(session: Session, enterprise_id: int | None, scope: Scope) -> Enterprise | None:
    return None if enterprise_id is None else enterprise_or_raise(session, enterprise_id, scope)


def create_risk_point(session: Session, *, body: RiskPointIn, scope: Scope) -> RiskPoint:
    """Register and grade a risk point; its enterprise's level follows."""
    enterprise = _enterprise(session, body.enterprise_id, scope)
    inputs = grading.with_derived_flags(
        session, enterprise_id=body.enterprise_id, method=body.method, inputs=body.inputs, sent=True
    )
    grading.grade_risk_point(body.method, inputs)  # refuse bad inputs before writing
    geom = body_location(body) or (enterprise.geom if enterprise else None)
    if geom is None:
        raise InvalidInput("give lon and lat, or an enterprise to place it at", field="lon,lat")
    with atomic_write(session):
        point = RiskPoint(**{**body_fields(body, "assessed_by"), "inputs": inputs}, geom=geom)
        session.add(point)
        session.flush()
        _grade(session, point, body.assessed_by)
        if enterprise:
            grading.refresh_enterprise_levels(session, ids=[enterprise.id])
    session.refresh(point)
    return point


def update_risk_point(
    session: Session, *, row: RiskPoint, body: RiskPointIn, scope: Scope
) -> RiskPoint:
    """Change a risk point; new inputs re-grade it (the old grade stays in the history)."""
    point = row
    previous_enterprise = point.enterprise_id
    values = body_fields(body, "assessed_by")
    if "enterprise_id" in values:
        _enterprise(session, values["enterprise_id"], scope)
    regrade = bool({"method", "inputs", "enterprise_id"} & set(values))
    if regrade:
        method = values.get("method", point.method)
        values["inputs"] = grading.with_derived_flags(
            session,
            enterprise_id=values.get("enterprise_id", point.enterprise_id),
            method=method,
            inputs=values.get("inputs", point.inputs),
            sent="inputs" in values,
        )
        grading.grade_risk_point(method, values["inputs"])
    geom = body_location(body)
    with atomic_write(session):
        for name, value in values.items():
            setattr(point, name, value)
        if geom:
            point.geom = geom
        if regrade:
            _grade(session, point, body.assessed_by or "api")
        session.flush()
        ids = {i for i in (previous_enterprise, point.enterprise_id) if i is not None}
        grading.refresh_enterprise_levels(session, ids=sorted(ids))
    session.refresh(point)
    return point


def delete_risk_point(session: Session, *, row: RiskPoint, scope: Scope) -> None:
    """Delete a risk point; its enterprise's level is re-derived."""
    point = row
    enterprise_id = point.enterprise_id
    with atomic_write(session):
        session.delete(point)
        session.flush()
        if enterprise_id:
            grading.refresh_enterprise_levels(session, ids=[enterprise_id])
