"""Comparing two dates: what changed in a region between them.

* regions (the children of the region, or the provinces) that went up or down a colour,
  from the daily snapshots (`region_count_snapshots`), classed by today's breaks so a change
  is a change of the region, not of its peers;
* enterprises that went up or down a colour, from `enterprise_level_changes` (a trigger
  records every change of an enterprise's level);
* major hidden dangers found, and closed, between the dates.

Counts are public like every aggregate; the enterprises and dangers themselves are listed
only as far as the caller's scope reads them.
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.cluster import routing
from app.errors import InvalidInput
from app.regions.service import get_region_or_raise
from app.risk import aggregation
from app.risk.methods import LEVELS

MAX_ITEMS = 200
# Higher is worse; an enterprise with no level counts below blue.
_RANK = {level: len(LEVELS) - i for i, level in enumerate(LEVELS)}


def _direction(before: str | None, after: str | None) -> str | None:
    rank_before, rank_after = _RANK.get(before or "", 0), _RANK.get(after or "", 0)
    if rank_after == rank_before:
        return None
    return "up" if rank_after > rank_before else "down"


def _snapshot_day(session: Session, wanted: date) -> date | None:
    """The latest snapshot day on or before `wanted` (None: there is none)."""
    day: date | None = session.execute(
        text("SELECT max(day) FROM region_count_snapshots WHERE day <= :day"), {"day": wanted}
    ).scalar()
    return day


def _units(session: Session, code: str | None) -> list[Any]:
    if code is None:
        sql = "SELECT code, name, level, area_km2 FROM regions WHERE parent_code IS NULL"
        return list(session.execute(text(sql + " ORDER BY code")).all())
    region = get_region_or_raise(session, code=code)
    return list(
        session.execute(
            text("""
            SELECT code, name, level, area_km2 FROM regions WHERE parent_code = :code
            UNION ALL
            SELECT g.code, g.name, 'grid', ST_Area(g.geom::geography) / 1e6 FROM grid_cells g
             WHERE g.county_code = :code AND :leaf
            ORDER BY code
        """),
            {"code": code, "leaf": region.is_leaf},
        ).all()
    )


def _snapshot_counts(session: Session, day: date, codes: list[str]) -> dict[str, dict[str, int]]:
    rows = session.execute(
        text("""
        SELECT region_code, measure, value FROM region_count_snapshots
         WHERE day = :day AND region_code = ANY(:codes)
    """),
        {"day": day, "codes": codes},
    ).all()
    counts: dict[str, dict[str, int]] = {c: {} for c in codes}
    for code, measure, value in rows:
        counts[code][measure] = int(value)
    return counts


def _region_changes(
    session: Session,
    units: list[Any],
    days: tuple[date | None, date | None],
    method: str,
    normalise: str | None,
) -> list[dict[str, Any]]:
    first, last = days
    if not units or first is None or last is None:
        return []
    codes = [u.code for u in units]
    breaks = aggregation.level_breaks(session, method, normalise, units[0].level)
    before, after = (_snapshot_counts(session, day, codes) for day in (first, last))
    changes = []
    for unit in units:
        levels = [
            aggregation.regional_level(
                counts[unit.code],
                area_km2=unit.area_km2,
                method=method,
                normalise=normalise,
                breaks=breaks,
            )
            for counts in (before, after)
        ]
        direction = _direction(levels[0][0], levels[1][0])
        if direction:
            changes.append(
                {
                    "code": unit.code,
                    "name": unit.name,
                    "from_level": levels[0][0],
                    "to_level": levels[1][0],
                    "from_index": levels[0][1],
                    "to_index": levels[1][1],
                    "direction": direction,
                }
            )
    return changes


def _prefix_clause(code: str | None) -> tuple[str, dict[str, Any]]:
    """County codes at or below a region (all when None), by GB/T 2260 lineage."""
    if code is None:
        return "true", {}
    return (
        """t.county_code IN (
            SELECT code FROM regions WHERE code = :code OR parent_code = :code
               OR parent_code IN (SELECT code FROM regions WHERE parent_code = :code))""",
        {"code": code},
    )


def _enterprise_changes(
    session: Session, code: str | None, start: date, end: date, scope: Scope
) -> dict[str, Any]:
    """Enterprises whose level differs between the two dates (the level at a date: the
    new level of the last change up to it, else the old level of the first change after)."""
    where, params = _prefix_clause(code)
    same_shard = routing.same_shard(session.connection(), ("e", "t"))
    rows = session.execute(
        text(f"""
        WITH changes AS (
            SELECT t.enterprise_id, t.county_code,
                   (array_agg(t.old_level ORDER BY t.changed_at, t.id))[1] AS before,
                   (array_agg(t.new_level ORDER BY t.changed_at DESC, t.id DESC))[1] AS after
              FROM enterprise_level_changes t
              JOIN enterprises e  -- not those deleted since
                ON e.id = t.enterprise_id{same_shard}
             WHERE t.changed_at >= :start AND t.changed_at < :end AND {where}
             GROUP BY t.enterprise_id, t.county_code)
        SELECT enterprise_id, county_code, before, after FROM changes
         WHERE before IS DISTINCT FROM after
    """),
        {"start": start, "end": end + timedelta(days=1), **params},
    ).all()
    up = [r for r in rows if _direction(r.before, r.after) == "up"]
    down = [r for r in rows if _direction(r.before, r.after) == "down"]
    items: list[dict[str, Any]] = []
    if scope.can_read("enterprises") and rows:
        visible = scope.filters("enterprises")
        names: dict[int, str] = dict(
            session.execute(
                text(f"""
                SELECT e.id, e.name FROM enterprises e
                 WHERE e.id = ANY(:ids) AND {visible.where("e")}
            """),
                {"ids": [r.enterprise_id for r in rows], **visible.params()},
            ).all()
        )
        items = [
            {
                "id": r.enterprise_id,
                "name": names[r.enterprise_id],
                "county_code": r.county_code,
                "from_level": r.before,
                "to_level": r.after,
                "direction": _direction(r.before, r.after),
            }
            for r in sorted(rows, key=lambda r: (-_RANK.get(r.after or "", 0), r.enterprise_id))
            if r.enterprise_id in names
        ][:MAX_ITEMS]
    return {"up": len(up), "down": len(down), "items": items}


def _danger_changes(
    session: Session, code: str | None, start: date, end: date, scope: Scope
) -> dict[str, Any]:
    """Major hidden dangers found, and closed, between the dates."""
    where, params = _prefix_clause(code)
    counted = session.execute(
        text(f"""
        SELECT count(*) FILTER (WHERE t.found_at >= :start AND t.found_at < :end) AS found,
               count(*) FILTER (WHERE t.closed_at >= :start AND t.closed_at < :end) AS closed
          FROM hidden_dangers t WHERE t.grade = 'major' AND {where}
    """),
        {"start": start, "end": end + timedelta(days=1), **params},
    ).one()
    result: dict[str, Any] = {"new": counted.found, "closed": counted.closed, "items": []}
    if not scope.can_read("hidden_dangers"):
        return result
    visible = scope.filters("hidden_dangers", has_level=False)
    rows = session.execute(
        text(f"""
        SELECT t.id, t.title, t.status, t.county_code, t.found_at, t.closed_at, t.deadline
          FROM hidden_dangers t
         WHERE t.grade = 'major' AND {where} AND {visible.where("t", has_level=False)}
           AND (t.found_at >= :start AND t.found_at < :end
                OR t.closed_at >= :start AND t.closed_at < :end)
         ORDER BY coalesce(t.closed_at, t.found_at) DESC LIMIT :limit
    """),
        {
            "start": start,
            "end": end + timedelta(days=1),
            "limit": MAX_ITEMS,
            **params,
            **visible.params(),
        },
    ).all()
    result["items"] = [
        {
            "id": r.id,
            "title": r.title,
            "status": r.status,
            "county_code": r.county_code,
            "change": "closed" if r.closed_at and r.closed_at.date() >= start else "new",
            "found_at": r.found_at.isoformat(),
            "closed_at": r.closed_at.isoformat() if r.closed_at else None,
            "deadline": r.deadline.isoformat() if r.deadline else None,
        }
        for r in rows
    ]
    return result


def compare(
    session: Session,
    *,
    code: str | None,
    start: date,
    end: date,
    scope: Scope,
    method: str | None = None,
    normalise: str | None = None,
) -> dict[str, Any]:
    """What changed in a region (None: the country) between two dates."""
    if start >= end:
        raise InvalidInput("from must be before to", field="from")
    method, normalise = aggregation.resolve_method(method, normalise)
    days = (_snapshot_day(session, start), _snapshot_day(session, end))
    units = _units(session, code)
    regions = _region_changes(session, units, days, method, normalise)
    name = get_region_or_raise(session, code=code).name if code else "全国"
    breaks = aggregation.level_breaks(session, method, normalise, units[0].level) if units else None
    return {
        "code": code or "",
        "name": name,
        "from": start.isoformat(),
        "to": end.isoformat(),
        # The snapshots compared (the latest on or before each date; null: none that early).
        "snapshot_days": [d.isoformat() if d else None for d in days],
        "method": aggregation.method_label(method, normalise, breaks),
        "regions": {
            "up": sum(1 for r in regions if r["direction"] == "up"),
            "down": sum(1 for r in regions if r["direction"] == "down"),
            "items": regions,
        },
        "enterprises": _enterprise_changes(session, code, start, end, scope),
        "major_dangers": _danger_changes(session, code, start, end, scope),
    }
