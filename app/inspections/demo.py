"""The demo's inspection history: self-checks and spot checks of every graded enterprise at
its colour's frequency (geodata/inspections/frequencies.csv), so the overdue lists and the
spot-check draws have a past to read.

Written set-based in one INSERT … SELECT (5,000 enterprises give some 60,000 rows: one
statement, not a row per round trip). Each enterprise's state per kind is drawn from a hash
of the seed, its id and the kind, so the same seed gives the same history:
- NEVER of them were never inspected of that kind;
- OVERDUE of them were last inspected 1 to 30 days (at least 7) past their interval;
- the rest are up to date: last inspected 1 to `interval` days ago.
From the last inspection back, one inspection per interval over the last HISTORY_DAYS days
(a spot check of a blue enterprise, yearly, reaches further back: its one last check).
Self-checks are recorded by the enterprise's account when it has one, spot checks by one of
its county's demo inspectors (app/auth/demo.py), so a draw avoids the last inspector.
"""

import json
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.demo import INSPECTORS_PER_REGION
from app.inspections.frequencies import frequencies

HISTORY_DAYS = 90
NEVER = {"self_check": 0.03, "spot_check": 0.06}
OVERDUE = {"self_check": 0.10, "spot_check": 0.12}
CHECKLISTS = {
    "self_check": [
        {"item": "风险点管控措施落实", "ok": True},
        {"item": "隐患排查治理台账", "ok": True},
        {"item": "安全风险告知卡", "ok": True},
    ],
    "spot_check": [
        {"item": "双重预防机制运行", "ok": True},
        {"item": "重大风险管控责任落实", "ok": True},
        {"item": "应急预案与演练", "ok": True},
    ],
}


def _uniform(*parts: str) -> str:
    """SQL for a number in [0, 1) hashed from the seed and `parts` (28 bits of an MD5)."""
    joined = ", ".join(parts)
    return (
        f"(CAST(CAST('x' || substr(md5(concat_ws('|', CAST(:seed AS text), {joined})), 1, 7)"
        " AS bit(28)) AS integer) / 268435456.0)"
    )


_HISTORY_SQL = f"""
    WITH every(kind, level, days, never, overdue, checklist) AS (
         SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:levels AS text[]),
                              CAST(:days AS int[]), CAST(:never AS float8[]),
                              CAST(:overdue AS float8[]), CAST(:checklists AS jsonb[]))),
    state AS (
         SELECT e.id, e.county_code, e.grid_code, e.geom, v.kind, v.days, v.checklist,
                v.never, v.overdue,
                {_uniform("e.id", "v.kind", "'state'")} AS u_state,
                {_uniform("e.id", "v.kind", "'lag'")} AS u_lag
           FROM enterprises e JOIN every v ON v.level = e.risk_level),
    last AS (
         SELECT s.*,
                CAST(CASE WHEN s.u_state < s.never + s.overdue
                     THEN s.days + 1 + floor(s.u_lag * greatest(least(s.days, 30), 7))
                     ELSE 1 + floor(s.u_lag * s.days) END AS integer) AS lag
           FROM state s WHERE s.u_state >= s.never),
    accounts AS (
         SELECT DISTINCT ON (enterprise_id) enterprise_id, id, username FROM users
          WHERE role = 'enterprise' AND enterprise_id IS NOT NULL
          ORDER BY enterprise_id, id),
    dated AS (
         SELECT l.*, k,
                CASE WHEN l.kind = 'spot_check' THEN 'inspector-' || l.county_code || '-'
                     || CAST(1 + floor(:inspectors * {_uniform("l.id", "'inspector'", "k")})
                             AS integer) END AS inspector
           FROM last l
          CROSS JOIN LATERAL generate_series(0, greatest(:history - l.lag, 0) / l.days) AS k)
    INSERT INTO inspections (county_code, grid_code, enterprise_id, kind, inspected_at,
                             user_id, username, checklist, geom)
    SELECT d.county_code, d.grid_code, d.id, d.kind,
           (CAST(:today AS date) - (d.lag + d.k * d.days)
            + make_interval(mins => CAST(480 + floor(540 * {_uniform("d.id", "d.kind", "d.k")})
                                         AS integer)))
             AT TIME ZONE 'Asia/Shanghai',
           coalesce(ins.id, own.id), coalesce(ins.username, own.username), d.checklist,
           ST_PointOnSurface(d.geom)
      FROM dated d
      LEFT JOIN users ins ON ins.username = d.inspector
      LEFT JOIN accounts own ON d.kind = 'self_check' AND own.enterprise_id = d.id
"""


def write_history(session: Session, *, seed: int, today: date) -> dict[str, int]:
    """Write the demo's inspections up to the day before `today`; rows written per kind."""
    rows = [
        (kind, level, days)
        for kind in ("self_check", "spot_check")
        for level, days in frequencies()[kind].items()
    ]
    session.execute(
        text(_HISTORY_SQL),
        {
            "seed": str(seed),
            "today": today,
            "history": HISTORY_DAYS,
            "inspectors": INSPECTORS_PER_REGION,
            "kinds": [kind for kind, _, _ in rows],
            "levels": [level for _, level, _ in rows],
            "days": [days for _, _, days in rows],
            "never": [NEVER[kind] for kind, _, _ in rows],
            "overdue": [OVERDUE[kind] for kind, _, _ in rows],
            "checklists": [json.dumps(CHECKLISTS[kind], ensure_ascii=False) for kind, _, _ in rows],
        },
    )
    return {
        f"inspections ({kind})": count
        for kind, count in session.execute(
            text("SELECT kind, count(*) FROM inspections GROUP BY kind ORDER BY kind")
        ).all()
    }
