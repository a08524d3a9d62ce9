"""The key-supervision list (重点监管名单): per region and year, the units (a city's
counties, a county's townships) and enterprises officials chose, with the data that
suggests candidates shown beside: red enterprises, overdue hidden dangers, repeated
findings. How many a region names is data (geodata/inspections/key_supervision.csv).
"""

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, delete, func, or_, select, text
from sqlalchemy.orm import Session

from app.auth.scope import Scope, region_prefix
from app.cluster import routing
from app.crud import atomic_write
from app.dangers import rules
from app.dangers.models import HiddenDanger
from app.dangers.service import overdue_condition
from app.errors import Forbidden, InvalidInput
from app.settings import GEODATA_DIR
from app.sites.models import Enterprise
from app.sites.service import enterprise_or_raise
from app.supervision.models import KeySupervisionEntry
from app.supervision.schemas import CountyIn, KeyListIn, TownshipIn

KEY_SUPERVISION_CSV = GEODATA_DIR / "inspections" / "key_supervision.csv"
CANDIDATES = 30
# Findings (hidden dangers found) within this many days count as "repeated" from two on.
FINDINGS_DAYS = 365
REPEATED = 2


@dataclass(frozen=True)
class Limits:
    """How many units and enterprises a region of one level names."""

    region_level: str
    unit_kind: str
    units_min: int
    units_max: int
    enterprises_min: int
    enterprises_max: int


@cache
def limits() -> dict[str, Limits]:
    """Limits by region level (city, county)."""
    with KEY_SUPERVISION_CSV.open(encoding="utf-8") as file:
        return {
            row["region_level"]: Limits(
                region_level=row["region_level"],
                unit_kind=row["unit_kind"],
                units_min=int(row["units_min"]),
                units_max=int(row["units_max"]),
                enterprises_min=int(row["enterprises_min"]),
                enterprises_max=int(row["enterprises_max"]),
            )
            for row in csv.DictReader(file)
        }


def _region(session: Session, region: str) -> tuple[str, Limits]:
    """The region's name and its level's limits; 422 for a region without a rule."""
    row = session.execute(
        text("SELECT name, level FROM regions WHERE code = :code"), {"code": region}
    ).first()
    if row is None:
        raise InvalidInput(f"region {region} does not exist", field="region")
    rule = limits().get(row.level)
    if rule is None:
        raise InvalidInput(
            f"a {row.level} names no key-supervision list", field="region", allowed=list(limits())
        )
    return str(row.name), rule


def _check_read(scope: Scope, region: str) -> None:
    scope.require_role("admin", "official")
    if not region_prefix(region).startswith(scope.read_prefix):
        raise Forbidden(f"region {region} lies outside what {scope.username} reads", field="region")


def _counts(today: date, *, colocated: bool) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Per enterprise: its overdue hidden dangers, and those found in the last year (in its
    county too where `colocated`: routing.colocated)."""
    own = and_(
        HiddenDanger.enterprise_id == Enterprise.id,
        *([HiddenDanger.county_code == Enterprise.county_code] if colocated else []),
    )
    overdue = select(func.count()).where(own, overdue_condition(today)).scalar_subquery()
    findings = (
        select(func.count())
        .where(own, HiddenDanger.found_at >= today - timedelta(days=FINDINGS_DAYS))
        .scalar_subquery()
    )
    return overdue, findings


def candidate_enterprises(
    session: Session, *, scope: Scope, region: str, today: date
) -> list[dict[str, Any]]:
    """Enterprises of the region that are red, have overdue dangers or repeated findings,
    the most pressing first."""
    filters = scope.filters("enterprises", region=region)
    overdue, findings = _counts(today, colocated=routing.colocated(session.connection()))
    red = (Enterprise.risk_level == "red").cast(Integer)
    rows = session.execute(
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.risk_level,
            Enterprise.county_code,
            overdue.label("overdue_dangers"),
            findings.label("findings"),
        )
        .where(
            filters.condition("enterprises"),
            or_(Enterprise.risk_level == "red", overdue > 0, findings >= REPEATED),
        )
        .order_by(red.desc(), overdue.desc(), findings.desc(), Enterprise.id)
        .limit(CANDIDATES)
    ).all()
    return [
        {
            "enterprise_id": row.id,
            "name": row.name,
            "risk_level": row.risk_level,
            "county_code": row.county_code,
            "overdue_dangers": row.overdue_dangers,
            "findings": row.findings,
        }
        for row in rows
    ]


# Per county of a city: red enterprises, overdue hidden dangers and recent findings. Counts
# grouped by county over the city's counties, not a correlated count per row of
# `regions`, which Citus (where regions is a reference table) cannot run; on one
# PostgreSQL the county index serves both (1 M enterprises: 35 ms against 47 ms).
_COUNTY_RED_SQL = """
    SELECT county_code, count(*) AS red FROM enterprises
     WHERE county_code = ANY(CAST(:counties AS char(6)[])) AND risk_level = 'red'
     GROUP BY county_code
"""
_COUNTY_DANGERS_SQL = """
    SELECT county_code,
           count(*) FILTER (WHERE status = ANY(:running)
                              AND (deadline < :today OR supervision_deadline < :today))
               AS overdue_dangers,
           count(*) FILTER (WHERE found_at >= :since) AS findings
      FROM hidden_dangers WHERE county_code = ANY(CAST(:counties AS char(6)[]))
     GROUP BY county_code
"""


def candidate_units(
    session: Session, *, region: str, rule: Limits, today: date
) -> list[dict[str, Any]]:
    """A city's counties with their red enterprises, overdue dangers and findings (region
    aggregates, like the map's); a county's townships are not in the region table."""
    if rule.unit_kind != "county":
        return []
    counties = session.execute(
        text("SELECT code, name FROM regions WHERE parent_code = :region AND level = 'county'"),
        {"region": region},
    ).all()
    codes = {"counties": [code for code, _ in counties]}
    running = [s.status for s in rules.statuses().values() if s.deadline_runs]
    red: dict[str, int] = dict(session.execute(text(_COUNTY_RED_SQL), codes).all())
    dangers = {
        row.county_code: row
        for row in session.execute(
            text(_COUNTY_DANGERS_SQL),
            {
                **codes,
                "running": running,
                "today": today,
                "since": today - timedelta(days=FINDINGS_DAYS),
            },
        )
    }
    rows = [
        {
            "code": code,
            "name": name,
            "red": red.get(code, 0),
            "overdue_dangers": dangers[code].overdue_dangers if code in dangers else 0,
            "findings": dangers[code].findings if code in dangers else 0,
        }
        for code, name in counties
    ]
    return sorted(rows, key=lambda r: (-r["red"], -r["overdue_dangers"], -r["findings"], r["code"]))


def _render_entry(entry: KeySupervisionEntry) -> dict[str, Any]:
    return {
        "subject": entry.subject,
        "name": entry.name,
        "reason": entry.reason,
        "chosen_by": entry.chosen_by,
        "chosen_at": entry.chosen_at.isoformat(),
    }


def key_list(
    session: Session, *, scope: Scope, region: str, year: int, today: date
) -> dict[str, Any]:
    """A region's list for a year, its limits and the candidates beside it."""
    _check_read(scope, region)
    name, rule = _region(session, region)
    entries = session.scalars(
        select(KeySupervisionEntry)
        .where(KeySupervisionEntry.region_code == region, KeySupervisionEntry.year == year)
        .order_by(KeySupervisionEntry.kind, KeySupervisionEntry.id)
    ).all()
    return {
        "region": region,
        "name": name,
        "year": year,
        "limits": {
            "unit_kind": rule.unit_kind,
            "units": [rule.units_min, rule.units_max],
            "enterprises": [rule.enterprises_min, rule.enterprises_max],
        },
        "units": [_render_entry(e) for e in entries if e.kind == "unit"],
        "enterprises": [_render_entry(e) for e in entries if e.kind == "enterprise"],
        "candidates": {
            "units": candidate_units(session, region=region, rule=rule, today=today),
            "enterprises": candidate_enterprises(session, scope=scope, region=region, today=today),
        },
    }


def save_list(session: Session, *, scope: Scope, body: KeyListIn, today: date) -> dict[str, Any]:
    """Replace a region's list for a year (officials of the region): every unit and
    enterprise checked, the counts within the limits, all or nothing."""
    region = body.region
    scope.require_role("admin", "official")
    if scope.write_prefix is None or not region_prefix(region).startswith(scope.write_prefix):
        raise Forbidden(
            f"region {region} lies outside what {scope.username} supervises", field="region"
        )
    _, rule = _region(session, region)
    for kind, count, low, high in (
        ("units", len(body.units), rule.units_min, rule.units_max),
        ("enterprises", len(body.enterprises), rule.enterprises_min, rule.enterprises_max),
    ):
        if not low <= count <= high:
            raise InvalidInput(
                f"a {rule.region_level} names {low}–{high} {kind}, not {count}", field=kind
            )
    units = []
    for index, unit in enumerate(body.units):
        if rule.unit_kind == "county":
            if not isinstance(unit, CountyIn):
                raise InvalidInput(
                    f"a {rule.region_level}'s list names counties by code", field=f"units.{index}"
                )
            row = session.execute(
                text("SELECT name FROM regions WHERE code = :code AND parent_code = :region"),
                {"code": unit.code, "region": region},
            ).first()
            if row is None:
                raise InvalidInput(
                    f"{unit.code} is not a county of {region}", field=f"units.{index}.code"
                )
            units.append((unit.code, str(row.name), unit.reason))
        else:
            if not isinstance(unit, TownshipIn):
                raise InvalidInput(
                    f"a {rule.region_level}'s list names townships by name", field=f"units.{index}"
                )
            name = unit.name.strip()
            units.append((name, name, unit.reason))
    enterprises = []
    for index, chosen in enumerate(body.enterprises):
        enterprise = enterprise_or_raise(session, chosen.enterprise_id, scope)
        if not enterprise.county_code.startswith(region_prefix(region)):
            raise InvalidInput(
                f"enterprise {enterprise.id} lies outside region {region}",
                field=f"enterprises.{index}.enterprise_id",
            )
        enterprises.append((str(enterprise.id), enterprise.name, chosen.reason))
    for kind, subjects in (("units", units), ("enterprises", enterprises)):
        if len({s[0] for s in subjects}) != len(subjects):
            raise InvalidInput(f"{kind} are named twice", field=kind)
    with atomic_write(session):
        session.execute(
            delete(KeySupervisionEntry).where(
                KeySupervisionEntry.region_code == region, KeySupervisionEntry.year == body.year
            )
        )
        for kind, subjects in (("unit", units), ("enterprise", enterprises)):
            for subject, name, reason in subjects:
                session.add(
                    KeySupervisionEntry(
                        region_code=region,
                        year=body.year,
                        kind=kind,
                        subject=subject,
                        name=name,
                        reason=reason,
                        chosen_by_id=scope.user_id,
                        chosen_by=scope.username,
                    )
                )
        session.flush()
    return key_list(session, scope=scope, region=region, year=body.year, today=today)
