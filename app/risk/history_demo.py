"""Demo history: 90 days of daily snapshots with plausible movement, so trends and the
comparison of two dates show something.

Working back from today's counts: a few per cent of the enterprises had another colour
some day in the past 90 days (more were worse then: rectification works), recorded as
level changes on that day; risk points drift between neighbouring colours; open and
overdue major dangers follow the demo's hidden dangers (found_at, closed_at, deadline).
Counties are generated, cities and provinces summed from them, like the live counts.
"""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import CursorResult, Result, text
from sqlalchemy.orm import Session

from app.datetimes import china_today
from app.risk.methods import LEVELS

DAYS = 90
ENTERPRISE_SHARE_CHANGED = 0.08
# Of the enterprises that changed, the share that was worse before (improved since).
IMPROVED_SHARE = 0.65
# A few counties ran a rectification campaign (专项整治) in the period: many of their
# enterprises were a colour worse before it, so their regional level moves.
CAMPAIGN_COUNTIES = 5
CAMPAIGN_SHARE_CHANGED = 0.35
CAMPAIGN_IMPROVED_SHARE = 0.9
# Risk points re-graded a neighbouring colour per day: this share of a county's points.
RISK_POINT_MOVES_PER_DAY = 0.002

_COUNTED = ("enterprises", "risk_points", "public_zones", "hazard_sources")


def _neighbour(level: str, worse: bool) -> str | None:
    i = LEVELS.index(level) + (-1 if worse else 1)  # LEVELS run red → blue
    return LEVELS[i] if 0 <= i < len(LEVELS) else None


def _enterprise_history(
    session: Session, rng: random.Random, today: date
) -> dict[date, list[tuple[str, str, str]]]:
    """Record past level changes of a few enterprises; returns {day: [(county, old, new)]}."""
    rows = session.execute(
        text("SELECT id, county_code, risk_level FROM enterprises WHERE risk_level IS NOT NULL")
    ).all()
    changes: dict[date, list[tuple[str, str, str]]] = defaultdict(list)
    inserts = []
    counties = sorted({row.county_code for row in rows})
    campaign = set(rng.sample(counties, min(CAMPAIGN_COUNTIES, len(counties))))
    for row in rows:
        in_campaign = row.county_code in campaign
        share = CAMPAIGN_SHARE_CHANGED if in_campaign else ENTERPRISE_SHARE_CHANGED
        if rng.random() >= share:
            continue
        improved = CAMPAIGN_IMPROVED_SHARE if in_campaign else IMPROVED_SHARE
        old = _neighbour(row.risk_level, worse=rng.random() < improved)
        if old is None:
            continue
        day = today - timedelta(days=rng.randint(1, DAYS - 1))
        changes[day].append((row.county_code, old, row.risk_level))
        at = datetime.combine(day, time(9 + rng.randint(0, 8), rng.randint(0, 59)), UTC)
        inserts.append(
            {
                "county": row.county_code,
                "id": row.id,
                "at": at,
                "old": old,
                "new": row.risk_level,
            }
        )
    if inserts:
        session.execute(
            text("""
            INSERT INTO enterprise_level_changes
                   (county_code, enterprise_id, changed_at, old_level, new_level)
            VALUES (:county, :id, :at, :old, :new)
        """),
            inserts,
        )
    return changes


def generate_history(session: Session, *, seed: int, today: date | None = None) -> int:
    """Write DAYS − 1 past daily snapshots (today's is taken by the caller) and the
    enterprises' past level changes; returns the snapshot rows written."""
    rng = random.Random(seed)
    today = today or china_today()
    session.execute(text("DELETE FROM enterprise_level_changes"))
    session.execute(
        text("DELETE FROM region_count_snapshots WHERE day >= :first AND day < :today"),
        {"first": today - timedelta(days=DAYS - 1), "today": today},
    )
    current: dict[str, dict[str, int]] = defaultdict(dict)
    for code, measure, value in session.execute(
        text("""
        SELECT c.region_code, c.measure, c.value FROM region_counts c
          JOIN regions r ON r.code = c.region_code AND r.is_leaf
         WHERE split_part(c.measure, '.', 1) = ANY(:kinds) AND c.value <> 0
    """),
        {"kinds": list(_COUNTED)},
    ).all():
        current[code][measure] = value
    changes = _enterprise_history(session, rng, today)
    counts = {code: dict(measures) for code, measures in current.items()}
    rows = []
    for back in range(1, DAYS):
        day = today - timedelta(days=back)
        # Undo the enterprise changes made the day after `day`.
        for county, old, new in changes.get(day + timedelta(days=1), []):
            values = counts.setdefault(county, {})
            values[f"enterprises.{new}"] = values.get(f"enterprises.{new}", 0) - 1
            values[f"enterprises.{old}"] = values.get(f"enterprises.{old}", 0) + 1
        for county, values in counts.items():
            points = sum(v for k, v in values.items() if k.startswith("risk_points."))
            expected = points * RISK_POINT_MOVES_PER_DAY
            for _ in range(int(expected) + (rng.random() < expected % 1)):
                level = rng.choice(LEVELS)
                other = _neighbour(level, worse=rng.random() < IMPROVED_SHARE)
                if other and values.get(f"risk_points.{level}", 0) > 0:
                    values[f"risk_points.{level}"] -= 1
                    values[f"risk_points.{other}"] = values.get(f"risk_points.{other}", 0) + 1
            rows += [
                {"day": day, "code": county, "measure": measure, "value": value}
                for measure, value in values.items()
                if value > 0
            ]
    session.execute(text("CREATE TEMP TABLE demo_history (LIKE region_count_snapshots)"))
    session.execute(text("INSERT INTO demo_history VALUES (:day, :code, :measure, :value)"), rows)
    # Counties, and their cities and provinces summed, like the live counts.
    written = _rowcount(
        session.execute(
            text("""
        INSERT INTO region_count_snapshots (day, region_code, measure, value)
        SELECT h.day, l.code, h.measure, sum(h.value) FROM demo_history h
         CROSS JOIN LATERAL region_lineage(h.region_code) AS l(code)
         GROUP BY 1, 2, 3
    """)
        )
    )
    session.execute(text("DROP TABLE demo_history"))
    # Open, open major and overdue major dangers of each day, from the dangers' own dates.
    written += _rowcount(
        session.execute(
            text("""
        WITH h AS MATERIALIZED (  -- read once (on Citus: gathered from the shards)
            SELECT county_code, grade, deadline, found_at, closed_at FROM hidden_dangers)
        INSERT INTO region_count_snapshots (day, region_code, measure, value)
        SELECT dd.day, l.code, m.measure, count(*)
          FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS g(ts)
         CROSS JOIN LATERAL (SELECT CAST(g.ts AS date) AS day) AS dd
          JOIN h ON CAST(h.found_at AS date) <= dd.day
                               AND (h.closed_at IS NULL OR CAST(h.closed_at AS date) > dd.day)
         CROSS JOIN LATERAL region_lineage(h.county_code) AS l(code)
         CROSS JOIN LATERAL unnest(ARRAY[
               'dangers.open',
               CASE WHEN h.grade = 'major' THEN 'dangers.open_major' END,
               CASE WHEN h.grade = 'major' AND h.deadline < dd.day
                    THEN 'dangers.overdue_major' END]) AS m(measure)
         WHERE m.measure IS NOT NULL
         GROUP BY dd.day, l.code, m.measure
    """),
            {"first": today - timedelta(days=DAYS - 1), "last": today - timedelta(days=1)},
        )
    )
    return written


def _rowcount(result: Result[Any]) -> int:
    if not isinstance(result, CursorResult):  # what a statement run on a connection gives
        raise TypeError(f"expected a CursorResult, got {type(result).__name__}")
    return result.rowcount
