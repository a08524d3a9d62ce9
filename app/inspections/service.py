"""Inspections: who may record which kind where, findings reported as hidden dangers in
the same transaction, and the enterprises overdue for their next inspection.

Inspections are read by whoever reads hidden dangers, with the same row filters of the one
scope module: both carry the county, the enterprise and (through it) the sector.
"""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.scope import Scope
from app.cluster.routing import same_shard
from app.crud import atomic_write
from app.dangers import service as dangers
from app.dangers.models import HiddenDanger
from app.datetimes import CHINA_STANDARD_TIME
from app.errors import Forbidden, InvalidInput
from app.geo.location import ewkt, parse_location
from app.inspections.frequencies import frequencies
from app.inspections.models import Inspection
from app.inspections.schemas import InspectionIn
from app.regions.service import require_in_china
from app.risk.methods import LEVELS
from app.sites.models import Enterprise
from app.sites.service import enterprise_or_raise

# Rows of inspections are filtered like hidden dangers (see the module docstring).
SCOPE_TABLE = "hidden_dangers"
# Which kind each role records; admins record any.
KIND_OF_ROLE = {"enterprise": "self_check", "official": "spot_check", "warden": "grid_check"}
# A clock a little fast on the inspector's phone is not a bad record.
CLOCK_SKEW = timedelta(minutes=10)
# Records from before the dual prevention mechanism are typing errors.
EARLIEST = datetime(2000, 1, 1, tzinfo=CHINA_STANDARD_TIME)


def render_inspection(row: Inspection, danger_ids: list[int] | None = None) -> dict[str, Any]:
    """An inspection for the API."""
    body = {
        "id": row.id,
        "kind": row.kind,
        "enterprise_id": row.enterprise_id,
        "county_code": row.county_code,
        "grid_code": row.grid_code,
        "inspected_at": row.inspected_at.isoformat(),
        "user_id": row.user_id,
        "username": row.username,
        "checklist": row.checklist,
        "note": row.note,
        "finding_count": row.finding_count,
    }
    if danger_ids is not None:
        body["hidden_danger_ids"] = danger_ids
    return body


def require_inspector(scope: Scope, kind: str) -> None:
    """401 / 403 unless the role records this kind of inspection (admins: any kind)."""
    if scope.role == "admin":
        return
    wanted = KIND_OF_ROLE.get(scope.role)
    if wanted is None:
        scope.require_signed_in()
        raise Forbidden(f"a {scope.role} records no inspections", field=None)
    if kind != wanted:
        raise Forbidden(
            f"a {scope.role} records {wanted} inspections", field="kind", allowed=[wanted]
        )


def check_inspected(scope: Scope, enterprise: Enterprise) -> None:
    """403 unless the enterprise is this inspector's to inspect: its own (enterprise), in
    the official's region and sectors, in the warden's grid cells."""
    if scope.role == "warden":
        if enterprise.grid_code not in scope.grid_cells:
            raise Forbidden(
                f"enterprise {enterprise.id} lies outside {scope.username}'s grid cells",
                field="enterprise_id",
            )
        return
    scope.check_written(
        SCOPE_TABLE,
        county_code=enterprise.county_code,
        enterprise_id=enterprise.id,
        sector=enterprise.sector,
    )


def create_inspection(
    session: Session, *, body: InspectionIn, scope: Scope, now: datetime
) -> dict[str, Any]:
    """Record an inspection; each finding becomes a reported hidden danger, all or none."""
    require_inspector(scope, body.kind)
    enterprise = enterprise_or_raise(session, body.enterprise_id, scope)
    check_inspected(scope, enterprise)
    inspected_at = body.inspected_at or now
    if inspected_at > now + CLOCK_SKEW:
        raise InvalidInput("the inspection lies in the future", field="inspected_at")
    if inspected_at < EARLIEST:
        raise InvalidInput(
            f"inspections before {EARLIEST.date()} are not recorded", field="inspected_at"
        )
    geom: object = enterprise.geom
    if body.lon is not None and body.lat is not None:
        point = ewkt(parse_location(lon=body.lon, lat=body.lat, geometry=None, crs=body.crs))
        require_in_china(session, point)
        geom = point
    with atomic_write(session):
        row = Inspection(
            county_code=enterprise.county_code,
            grid_code=enterprise.grid_code,
            enterprise_id=enterprise.id,
            kind=body.kind,
            inspected_at=inspected_at,
            user_id=scope.user_id,
            username=scope.username,
            checklist=[item.model_dump() for item in body.checklist],
            note=body.note,
            finding_count=len(body.findings),
            geom=geom,
        )
        session.add(row)
        session.flush()
        danger_ids = []
        for finding in body.findings:
            danger = dangers.add_reported(
                session,
                scope=scope,
                note=f"found by {body.kind} inspection {row.id}",
                enterprise_id=enterprise.id,
                inspection_id=row.id,
                title=finding.title,
                description=finding.description,
                grade=finding.grade,
                geom=enterprise.geom,
                responsible_person=enterprise.responsible_person,
                responsible_phone=enterprise.responsible_phone,
                government_person=enterprise.government_person,
            )
            danger_ids.append(danger.id)
    session.refresh(row)
    return render_inspection(row, danger_ids)


def list_inspections(
    session: Session,
    *,
    scope: Scope,
    limit: int,
    offset: int,
    region: str | None = None,
    kind: str | None = None,
    enterprise_id: int | None = None,
    grid: str | None = None,
) -> dict[str, Any]:
    """A page of the inspections the caller reads, newest first."""
    scope.require_read(SCOPE_TABLE)
    filters = scope.filters(SCOPE_TABLE, region=region, has_level=False)
    statement = select(Inspection).where(
        filters.condition(Inspection.__tablename__, has_level=False)
    )
    for column, value in (
        (Inspection.kind, kind),
        (Inspection.enterprise_id, enterprise_id),
        (Inspection.grid_code, grid),
    ):
        if value is not None:
            statement = statement.where(column == value)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(
        statement.order_by(Inspection.inspected_at.desc(), Inspection.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    found: dict[int | None, list[int]] = {}
    for inspection_id, danger_id in session.execute(
        select(HiddenDanger.inspection_id, HiddenDanger.id)
        .where(HiddenDanger.inspection_id.in_([row.id for row in rows]))
        .order_by(HiddenDanger.id)
    ):
        found.setdefault(inspection_id, []).append(danger_id)
    return {
        "items": [render_inspection(row, found.get(row.id, [])) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def _warden_cells(session: Session, username: str) -> list[str]:
    """The grid cells of a warden account; 422 when there is no such warden."""
    cells = session.scalar(
        select(User.grid_cells).where(User.username == username, User.role == "warden")
    )
    if cells is None:
        raise InvalidInput(f"{username!r} is not a warden account", field="warden")
    return list(cells)


_OVERDUE_SQL = """
    SELECT e.id, e.name, e.risk_level, e.county_code, e.grid_code, f.days,
           last.at AS last_inspected_at
      FROM enterprises e
      JOIN unnest(CAST(:every_levels AS text[]), CAST(:every_days AS int[]))
           WITH ORDINALITY AS f(level, days, rank)
        ON f.level = e.risk_level
      LEFT JOIN LATERAL (
           SELECT max(i.inspected_at) AS at FROM inspections i
            WHERE i.enterprise_id = e.id AND i.kind = :kind{same_shard}) last ON true
     WHERE {scope}
       AND (CAST(:grid AS text) IS NULL OR e.grid_code = :grid)
       AND (CAST(:enterprise AS integer) IS NULL OR e.id = :enterprise)
       AND (CAST(:cells AS text[]) IS NULL OR e.grid_code = ANY(CAST(:cells AS text[])))
       AND (last.at IS NULL
            OR CAST(last.at AT TIME ZONE 'Asia/Shanghai' AS date) + f.days < CAST(:today AS date))
     ORDER BY f.rank,
              CAST(last.at AT TIME ZONE 'Asia/Shanghai' AS date) + f.days NULLS FIRST, e.id
"""


def overdue(
    session: Session,
    *,
    scope: Scope,
    today: date,
    kind: str,
    limit: int,
    offset: int,
    region: str | None = None,
    grid: str | None = None,
    enterprise_id: int | None = None,
    warden: str | None = None,
) -> dict[str, Any]:
    """Enterprises whose last inspection of `kind` is older than their colour's interval
    (frequencies.csv) on `today`: red first, then orange, yellow, blue (the risk levels'
    order), within a colour the never inspected, then the longest overdue; `warden` (a
    username) narrows them to the enterprises in that warden's grid cells."""
    scope.require_read(SCOPE_TABLE)
    scope.require_read("enterprises")
    filters = scope.filters("enterprises", region=region)
    every = frequencies()[kind]
    sql = _OVERDUE_SQL.format(
        scope=filters.where("e"), same_shard=same_shard(session.connection(), ("i", "e"))
    )
    params = {
        **filters.params(),
        # In the risk levels' order: the list's order (red first).
        "every_levels": [level for level in LEVELS if level in every],
        "every_days": [every[level] for level in LEVELS if level in every],
        "kind": kind,
        "grid": grid,
        "enterprise": enterprise_id,
        "cells": _warden_cells(session, warden) if warden is not None else None,
        "today": today,
    }
    total = session.scalar(text(f"SELECT count(*) FROM ({sql}) AS overdue"), params)
    rows = session.execute(
        text(f"{sql} LIMIT :limit OFFSET :offset"), {**params, "limit": limit, "offset": offset}
    ).mappings()
    items = []
    for row in rows:
        last: datetime | None = row["last_inspected_at"]
        due = (
            last.astimezone(CHINA_STANDARD_TIME).date() + timedelta(days=row["days"])
            if last
            else None
        )
        items.append(
            {
                "enterprise_id": row["id"],
                "name": row["name"],
                "risk_level": row["risk_level"],
                "county_code": row["county_code"],
                "grid_code": row["grid_code"],
                "kind": kind,
                "every_days": row["days"],
                "last_inspected_at": last.isoformat() if last else None,
                "due": due.isoformat() if due else None,
                "days_overdue": (today - due).days if due else None,
            }
        )
    return {
        "today": today.isoformat(),
        "kind": kind,
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }
