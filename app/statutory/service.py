"""The statutory tables, computed from the database for a region and a period.

Every figure is a count over stored rows with the period's bounds in China time, so a
table is reproducible: run it again and it gives the same numbers (unless the rows were
changed). Whether a hidden danger was fixed or supervised is read from its append-only
history as of the period's end, not from its current status.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope, region_prefix
from app.blacklist.service import LISTERS
from app.cluster import routing
from app.dangers import rules
from app.datetimes import CHINA_STANDARD_TIME
from app.errors import Forbidden, InvalidInput
from app.regions.service import get_region_or_raise
from app.risk import aggregation
from app.sites.service import enterprise_or_raise
from app.statutory.models import EnforcementAction
from app.statutory.schemas import EnforcementIn

# Statuses at or past rectification (geodata/dangers/statuses.csv): the danger is fixed.
FIXED_STATUSES = ["rectified", "accepted", "verified", "closed"]
LEVEL_RANK = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}
FIVE_BATCHES = (
    ("major_dangers", "曝光一批重大隐患"),
    ("punished", "惩治一批典型违法行为"),
    ("blacklisted", '通报一批"黑名单"生产经营单位'),
    ("banned", "取缔一批非法违法企业"),
    ("closed", "关闭一批不符合安全生产条件企业"),
)


@dataclass(frozen=True)
class Period:
    """[start, end) in China time, and its label."""

    label: str
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def _at(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=CHINA_STANDARD_TIME)


def month_period(month: str) -> Period:
    """'2026-11' → November 2026."""
    year, number = (int(part) for part in month.split("-"))
    following = _at(year + 1, 1) if number == 12 else _at(year, number + 1)
    return Period(month, _at(year, number), following)


def quarter_or_year(quarter: str | None, year: int | None) -> Period:
    """'2026-Q3' → July–September 2026; or a whole year."""
    if (quarter is None) == (year is None):
        raise InvalidInput("give quarter=YYYY-Qn or year=YYYY", field="quarter")
    if year is not None:
        return Period(str(year), _at(year, 1), _at(year + 1, 1))
    assert quarter is not None
    y, q = int(quarter[:4]), int(quarter[-1])
    first = 3 * (q - 1) + 1
    return Period(quarter, _at(y, first), _at(y + 1, 1) if q == 4 else _at(y, first + 3))


def _prefix(session: Session, scope: Scope, region: str | None) -> tuple[str, str, str]:
    """(region code, its name, county-code prefix narrowed to the caller's scope)."""
    scope.require_role(*LISTERS)
    code = region or scope.region_code
    if code is None:
        raise InvalidInput("give the region the table is for", field="region")
    found = get_region_or_raise(session, code=code)
    # A table goes upward under the region's name: one region's official may not title a
    # table with a wider or another region whose rows they cannot see.
    if scope.region_code and not code.startswith(region_prefix(scope.region_code)):
        raise Forbidden(
            f"{scope.username} reports for {scope.region_code} and the regions in it,"
            f" not for {code}",
            field="region",
        )
    return code, found.name, scope.filters("hidden_dangers", region=code).code_prefix


def _children(session: Session, code: str) -> list[tuple[str, str]]:
    """The rows of a table: the region's children (itself for a county)."""
    rows = session.execute(
        text("SELECT code, name FROM regions WHERE parent_code = :code ORDER BY code"),
        {"code": code},
    ).all()
    if not rows:
        rows = session.execute(
            text("SELECT code, name FROM regions WHERE code = :code"), {"code": code}
        ).all()
    return [(r.code, r.name) for r in rows]


def _child_of(children: list[tuple[str, str]], county: str) -> str | None:
    for code, _ in children:
        if county.startswith(region_prefix(code)):
            return code
    return None


# 五个一批


_FIVE_SQL = {
    "major_dangers": """
        SELECT d.id, d.county_code, d.title AS name, e.name AS unit, d.status AS detail,
               (d.found_at AT TIME ZONE 'Asia/Shanghai')::date AS on_day
          FROM hidden_dangers d
          LEFT JOIN enterprises e ON e.id = d.enterprise_id{enterprise_shard}
         WHERE d.grade = 'major' AND d.found_at >= :start AND d.found_at < :end
           AND d.county_code LIKE :prefix ORDER BY d.found_at, d.id""",
    "blacklisted": """
        SELECT b.id, b.county_code, e.name AS name, e.credit_code AS unit,
               b.reason AS detail, b.decided_on AS on_day
          FROM blacklist_entries b JOIN enterprises e ON e.id = b.enterprise_id
         WHERE b.decided_on BETWEEN :first AND :last AND b.county_code LIKE :prefix
         ORDER BY b.decided_on, b.id""",
    "enforcement": """
        SELECT a.id, a.county_code, a.unit_name AS name, a.legal_basis AS unit,
               a.description AS detail, a.decided_on AS on_day
          FROM enforcement_actions a
         WHERE a.kind = :kind AND a.decided_on BETWEEN :first AND :last
           AND a.county_code LIKE :prefix ORDER BY a.decided_on, a.id""",
}


def five_batches(
    session: Session, *, scope: Scope, region: str | None, month: str
) -> dict[str, Any]:
    """The monthly 五个一批 table: counts per item and the rows behind each."""
    code, name, prefix = _prefix(session, scope, region)
    period = month_period(month)
    params = {
        "start": period.start,
        "end": period.end,
        "first": period.first_day,
        "last": period.last_day,
        "prefix": prefix + "%",
    }
    items = []
    for key, name_zh in FIVE_BATCHES:
        sql = _FIVE_SQL.get(key, _FIVE_SQL["enforcement"]).format(
            enterprise_shard=routing.same_shard(session.connection(), ("e", "d"))
        )
        rows = session.execute(text(sql), {**params, "kind": key}).mappings().all()
        entries = [{**row, "on_day": row["on_day"].isoformat()} for row in rows]
        if key == "major_dangers":  # their status, as the table's reader says it
            statuses = rules.statuses()
            for entry in entries:
                known = statuses.get(entry["detail"])
                entry["detail"] = known.name_zh if known else entry["detail"]
        items.append({"item": key, "name_zh": name_zh, "count": len(entries), "entries": entries})
    return {"region": code, "region_name": name, "month": month, "items": items}


# Hidden-danger statistics (quarterly, yearly)


_STATISTICS_SQL = """
    WITH found AS (
        SELECT d.id, d.county_code, d.grade, d.deadline, d.found_at,
               EXISTS (SELECT 1 FROM hidden_danger_events e
                        WHERE e.danger_id = d.id{event_shard} AND e.to_status = ANY(:fixed)
                          AND e.at < :end) AS fixed,
               (SELECT e.supervision_level FROM hidden_danger_events e
                 WHERE e.danger_id = d.id{event_shard} AND e.supervision_level IS NOT NULL
                   AND e.at < :end
                 ORDER BY e.at DESC, e.id DESC LIMIT 1) AS supervision
          FROM hidden_dangers d
         WHERE d.found_at < :end AND d.county_code LIKE :prefix)
    SELECT county_code,
           count(*) FILTER (WHERE found_at >= :start) AS found,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'general') AS general,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'larger') AS larger,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'major') AS major,
           count(*) FILTER (WHERE found_at >= :start AND fixed) AS fixed,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'major' AND fixed) AS major_fixed,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'major'
                              AND supervision = 'city') AS supervised_city,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'major'
                              AND supervision = 'district') AS supervised_district,
           count(*) FILTER (WHERE found_at >= :start AND grade = 'major'
                              AND supervision = 'street') AS supervised_street,
           count(*) FILTER (WHERE NOT fixed AND deadline < :last_day + 1) AS overdue,
           count(*) FILTER (WHERE NOT fixed AND grade = 'major'
                              AND deadline < :last_day + 1) AS major_overdue
      FROM found GROUP BY county_code
"""
STATISTICS_COLUMNS = (
    ("found", "排查隐患总数"),
    ("general", "一般隐患"),
    ("larger", "较大隐患"),
    ("major", "重大隐患"),
    ("fixed", "已整改"),
    ("fix_rate", "整改率(%)"),
    ("major_fixed", "重大隐患已整改"),
    ("major_fix_rate", "重大隐患整改率(%)"),
    ("supervised_city", "市级挂牌督办"),
    ("supervised_district", "区县挂牌督办"),
    ("supervised_street", "街道挂牌督办"),
    ("overdue", "超期未整改"),
    ("major_overdue", "重大隐患超期未整改"),
)
_COUNTED = [key for key, _ in STATISTICS_COLUMNS if not key.endswith("rate")]


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    def rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    return {
        **row,
        "fix_rate": rate(row["fixed"], row["found"]),
        "major_fix_rate": rate(row["major_fixed"], row["major"]),
    }


def danger_statistics(
    session: Session, *, scope: Scope, region: str | None, period: Period
) -> dict[str, Any]:
    """Found, fixed, fix rate, major ones and their supervision, overdue: per child region
    and in total. Found = found in the period; fixed and supervised = by the period's end
    (from the history); overdue = not fixed by the end and past its deadline."""
    code, name, prefix = _prefix(session, scope, region)
    children = _children(session, code)
    per_child: dict[str, dict[str, int]] = {c: dict.fromkeys(_COUNTED, 0) for c, _ in children}
    for row in session.execute(
        text(
            _STATISTICS_SQL.format(event_shard=routing.same_shard(session.connection(), ("e", "d")))
        ),
        {
            "fixed": FIXED_STATUSES,
            "start": period.start,
            "end": period.end,
            "last_day": period.last_day,
            "prefix": prefix + "%",
        },
    ).mappings():
        child = _child_of(children, row["county_code"])
        if child is None:
            continue
        for key in _COUNTED:
            per_child[child][key] += row[key]
    total = {key: sum(c[key] for c in per_child.values()) for key in _COUNTED}
    return {
        "region": code,
        "region_name": name,
        "period": period.label,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "rows": [_rates({"code": c, "name": n, **per_child[c]}) for c, n in children],
        "total": _rates(total),
    }


# Red/orange risk bulletin (预警)


# Enterprises that became red or orange, from their level history (0014): every change
# of risk_level, whatever made it (a grading through the API, a rebuild after a new rule
# set). Not the audit log, which has no rows for jobs without an actor, nor, on the
# cluster, for located tables (docs/scaling.md §1.5).
_RISING_SQL = """
    SELECT DISTINCT ON (e.id) e.id, e.name, e.credit_code, e.county_code, e.risk_level,
           c.old_level AS previous, c.changed_at AS at
      FROM enterprise_level_changes c
      JOIN enterprises e ON e.id = c.enterprise_id{enterprise_shard}
     WHERE c.changed_at >= :start AND c.changed_at < :end
       AND c.new_level IN ('red', 'orange')
       AND coalesce(array_position(CAST(:ranks AS text[]), c.old_level), 0)
           < array_position(CAST(:ranks AS text[]), c.new_level)
       AND e.county_code LIKE :prefix AND e.risk_level IN ('red', 'orange')
     ORDER BY e.id, c.changed_at DESC, c.id DESC
"""
_OVERDUE_MAJOR_SQL = """
    SELECT d.id, d.title, d.county_code, d.deadline, d.supervision_level, e.name AS enterprise
      FROM hidden_dangers d
      LEFT JOIN enterprises e ON e.id = d.enterprise_id{enterprise_shard}
     WHERE d.grade = 'major' AND d.found_at < :end AND d.county_code LIKE :prefix
       AND d.deadline < :last_day + 1
       AND NOT EXISTS (SELECT 1 FROM hidden_danger_events h
                        WHERE h.danger_id = d.id{event_shard} AND h.to_status = ANY(:fixed)
                          AND h.at < :end)
     ORDER BY d.deadline, d.id
"""


def risk_bulletin(
    session: Session, *, scope: Scope, region: str | None, month: str
) -> dict[str, Any]:
    """Red and orange regions (new or rising against the last snapshot before the month),
    enterprises that became red or orange during the month, and overdue major dangers."""
    code, name, prefix = _prefix(session, scope, region)
    period = month_period(month)

    def same_shard(a: str, b: str) -> str:
        return routing.same_shard(session.connection(), (a, b))

    regions = aggregation.summarise_children(session, parent=code)
    previous = _previous_levels(session, [r["code"] for r in regions], before=period.first_day)
    flagged = []
    for row in regions:
        level = row["regional_level"]
        if level not in ("red", "orange"):
            continue
        before = previous.get(row["code"])
        flagged.append(
            {
                "code": row["code"],
                "name": row["name"],
                "level": level,
                "previous": before,
                "change": "new"
                if before is None
                else "rising"
                if LEVEL_RANK[level] > LEVEL_RANK.get(before, 0)
                else "unchanged",
                "red_points": row["counts"]["red"],
                "orange_points": row["counts"]["orange"],
                "open_major_dangers": row["open_major_dangers"],
            }
        )
    params = {
        "start": period.start,
        "end": period.end,
        "last_day": period.last_day,
        "prefix": prefix + "%",
        "ranks": list(LEVEL_RANK),
        "fixed": FIXED_STATUSES,
    }
    rising = [
        {**r, "at": r["at"].isoformat()}
        for r in session.execute(
            text(_RISING_SQL.format(enterprise_shard=same_shard("e", "c"))), params
        ).mappings()
    ]
    overdue = [
        {**r, "deadline": r["deadline"].isoformat()}
        for r in session.execute(
            text(
                _OVERDUE_MAJOR_SQL.format(
                    enterprise_shard=same_shard("e", "d"), event_shard=same_shard("h", "d")
                )
            ),
            params,
        ).mappings()
    ]
    return {
        "region": code,
        "region_name": name,
        "month": month,
        "regions": flagged,
        "enterprises": rising,
        "overdue_major_dangers": overdue,
    }


def _previous_levels(session: Session, codes: list[str], *, before: date) -> dict[str, str]:
    """Each region's level on the last snapshot day before `before` (none: no snapshot)."""
    day = session.execute(
        text("SELECT max(day) FROM region_count_snapshots WHERE day < :before"),
        {"before": before},
    ).scalar()
    if day is None:
        return {}
    counts: dict[str, dict[str, int]] = {c: {} for c in codes}
    for region_code, measure, value in session.execute(
        text(
            "SELECT region_code, measure, value FROM region_count_snapshots"
            " WHERE day = :day AND region_code = ANY(:codes)"
        ),
        {"day": day, "codes": codes},
    ):
        counts[region_code][measure] = value
    method, normalise = aggregation.resolve_method(None, None)
    areas: dict[str, float] = dict(
        session.execute(
            text("SELECT code, area_km2 FROM regions WHERE code = ANY(:codes)"), {"codes": codes}
        ).all()
    )
    levels = {}
    for code, measured in counts.items():
        level, _ = aggregation.regional_level(
            measured, area_km2=areas.get(code, 0.0), method=method, normalise=normalise
        )
        if level is not None:
            levels[code] = level
    return levels


# Enforcement actions


def record_enforcement(session: Session, *, body: EnforcementIn, scope: Scope) -> dict[str, Any]:
    """Record a punishment, ban or closure (an enterprise's, or a named unregistered unit's)."""
    scope.require_role(*LISTERS)
    if body.enterprise_id is not None:
        enterprise = enterprise_or_raise(session, body.enterprise_id, scope)
        county, unit = enterprise.county_code, body.unit_name or enterprise.name
        sector: str | None = enterprise.sector
    elif body.unit_name and body.county_code:
        county, unit, sector = body.county_code, body.unit_name, None
        get_region_or_raise(session, code=county)
    else:
        raise InvalidInput(
            "give enterprise_id, or unit_name and county_code", field="enterprise_id"
        )
    scope.require_write("enterprises")
    if scope.write_prefix is not None and not county.startswith(scope.write_prefix):
        raise InvalidInput(f"county {county} is outside your region", field="county_code")
    if scope.sectors is not None and sector is not None and sector not in scope.sectors:
        raise InvalidInput(f"sector {sector!r} is not supervised by you", field="enterprise_id")
    action = EnforcementAction(
        county_code=county,
        enterprise_id=body.enterprise_id,
        unit_name=unit,
        kind=body.kind,
        decided_on=body.decided_on,
        description=body.description,
        legal_basis=body.legal_basis,
        fine_yuan=None if body.fine_yuan is None else Decimal(f"{body.fine_yuan:.2f}"),
        decided_by=scope.display_name or scope.username or "",
    )
    session.add(action)
    session.flush()
    return {
        "id": action.id,
        "county_code": county,
        "kind": action.kind,
        "unit_name": unit,
        "decided_on": action.decided_on.isoformat(),
    }
