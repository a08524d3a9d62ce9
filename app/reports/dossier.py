"""An enterprise's dossier (企业风险档案): what a popup's "details" opens on the map.

One read of everything an official checks about one enterprise: its facts and four-colour
level with the basis the enterprise rule recorded, its risk points (highest first), its
major hazard sources, its hidden dangers that are not closed, the latest grading records
and the latest changes (修改记录, from the audit log). Only for a caller whose scope reads
the enterprise (404 otherwise, like every read).
"""

from datetime import date
from typing import Any

from sqlalchemy import Row, case, select, tuple_
from sqlalchemy.orm import Session

from app.audit.service import newest
from app.auth.scope import Scope
from app.blacklist.service import status_of as blacklist_status
from app.crud import get_or_raise
from app.dangers import rules
from app.dangers import service as dangers
from app.dangers.models import HiddenDanger
from app.datetimes import china_today
from app.risk.models import Assessment, RiskPoint
from app.risk.service import render_risk_point
from app.sites.models import Enterprise, HazardSource
from app.sites.service import render_enterprise, render_hazard_source

RECENT_ASSESSMENTS = 10
RECENT_CHANGES = 20
# Bookkeeping columns a change history need not list.
UNREPORTED_FIELDS = {"updated_at", "version", "level_basis"}

# Highest risk first; ungraded rows last.
_LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
_DANGER_GRADE_ORDER = {"major": 0, "larger": 1, "general": 2}


def _level_rank(column: Any) -> Any:
    return case(_LEVEL_ORDER, value=column, else_=len(_LEVEL_ORDER))


def _render_danger(row: HiddenDanger, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "grade": row.grade,
        "status": row.status,
        "deadline": row.deadline.isoformat() if row.deadline else None,
        "found_at": row.found_at.isoformat(),
        "risk_point_id": row.risk_point_id,
        "supervision_level": row.supervision_level,
        "overdue": dangers.is_overdue(row, today),
    }


def _render_assessment(row: Assessment) -> dict[str, Any]:
    return {
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "method": row.method,
        "risk_level": row.risk_level,
        "ruleset_version": row.ruleset_version,
        "assessed_by": row.assessed_by,
        "assessed_at": row.assessed_at.isoformat(),
    }


def _render_change(entry: Row[Any]) -> dict[str, Any]:
    before, after = entry.before or {}, entry.after or {}
    changed = sorted(
        key for key in {*before, *after} - UNREPORTED_FIELDS if before.get(key) != after.get(key)
    )
    return {
        "at": entry.at.isoformat(),
        "username": entry.username,
        "action": entry.action,
        "table": entry.table_name,
        "row_id": entry.row_id,
        "fields": changed if entry.action == "update" else [],
    }


def enterprise_dossier(session: Session, *, id: int, scope: Scope) -> dict[str, Any]:
    """Everything about one enterprise the caller may read, with its change history."""
    enterprise = get_or_raise(session, Enterprise, id=id, scope=scope)
    risk_points = session.scalars(
        select(RiskPoint)
        .where(RiskPoint.enterprise_id == id)
        .order_by(
            _level_rank(RiskPoint.risk_level), RiskPoint.score.desc().nulls_last(), RiskPoint.id
        )
    ).all()
    hazard_sources = session.scalars(
        select(HazardSource)
        .where(HazardSource.enterprise_id == id)
        .order_by(HazardSource.grade.nulls_last(), HazardSource.id)
    ).all()
    open_dangers = session.scalars(
        select(HiddenDanger)
        .where(HiddenDanger.enterprise_id == id, HiddenDanger.status != "closed")
        .order_by(
            case(_DANGER_GRADE_ORDER, value=HiddenDanger.grade),
            HiddenDanger.deadline.nulls_last(),
            HiddenDanger.id,
        )
    ).all()
    subjects = [
        ("enterprise", id),
        *(("risk_point", p.id) for p in risk_points),
        *(("hazard_source", h.id) for h in hazard_sources),
    ]
    recent = session.scalars(
        select(Assessment)
        .where(tuple_(Assessment.subject_type, Assessment.subject_id).in_(subjects))
        .order_by(Assessment.assessed_at.desc(), Assessment.id.desc())
        .limit(RECENT_ASSESSMENTS)
    ).all()
    rows = [
        ("enterprises", str(id)),
        *(("risk_points", str(p.id)) for p in risk_points),
        *(("hazard_sources", str(h.id)) for h in hazard_sources),
    ]
    changes = newest(
        session,
        lambda table: [tuple_(table.c.table_name, table.c.row_id).in_(rows)],
        RECENT_CHANGES,
    )
    today = china_today()
    rendered = [_render_danger(danger, today) for danger in open_dangers]
    return {
        "changes": [_render_change(entry) for entry in changes],
        "enterprise": render_enterprise(enterprise),
        "risk_points": [render_risk_point(point) for point in risk_points],
        "hazard_sources": [render_hazard_source(source) for source in hazard_sources],
        "open_dangers": rendered,
        # Open and overdue major dangers (重大, and 较大 where a province uses it).
        "major_dangers": {
            "open": sum(1 for d in open_dangers if rules.path_of(d.grade) == "major"),
            "overdue": sum(
                1 for d in rendered if d["overdue"] and rules.path_of(d["grade"]) == "major"
            ),
        },
        "assessments": [_render_assessment(a) for a in recent],
        "blacklist": blacklist_status(session, enterprise_id=id, today=china_today()),
    }
