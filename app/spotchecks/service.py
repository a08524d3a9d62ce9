"""Double-random spot checks: build the pools, draw, store, re-derive, publish as XLSX.

The pools are taken from the database at draw time and stored with the draw:
- targets: the graded enterprises of the region the official reads;
- inspectors: the active official accounts of the region (their own region inside it);
- conflicts: per enterprise, the inspectors it may not get — its grid cell's warden (an
  account whose grid cells hold the enterprise's cell, or whose name is the cell's warden)
  and whoever made its last spot check;
- the spot-check intervals by colour (geodata/inspections/frequencies.csv), the period's
  days and the inspectors per target (geodata/inspections/spot_checks.csv).
A region whose pool holds fewer inspectors than one target needs is refused (422, field
`region`): every target would be short. Conflicts can still leave a target short in a
small pool; it is drawn with whom remains and marked `short` (and so in the workbooks).
Reading a draw derives the lists again from the stored seed and pools (app/spotchecks/draw.py).
"""

import calendar
import csv
import re
import secrets
from functools import cache
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.scope import Scope, region_prefix
from app.cluster import routing
from app.crud import atomic_write
from app.errors import Forbidden, InvalidInput, NotFound
from app.inspections.frequencies import frequencies
from app.settings import GEODATA_DIR
from app.spotchecks import draw
from app.spotchecks.models import SpotCheckDraw

SPOT_CHECKS_CSV = GEODATA_DIR / "inspections" / "spot_checks.csv"
PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")
LIST_LIMIT = 50


@cache
def parameters() -> dict[str, int]:
    """Spot-check parameters by name (inspectors_per_target …)."""
    with SPOT_CHECKS_CSV.open(encoding="utf-8") as file:
        return {row["parameter"]: int(row["value"]) for row in csv.DictReader(file)}


def period_days(period: str) -> int:
    """Days of a period: 2026-11 (month), 2026-Q4 (quarter), 2026 (year); else 422."""
    match = PERIOD.match(period)
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidInput(
            f"period {period!r} is not a month (2026-11), quarter (2026-Q4) or year (2026)",
            field="period",
        )
    year = int(match.group(1))
    if match.group(2):
        return calendar.monthrange(year, int(match.group(2)))[1]
    if match.group(3):
        first = 3 * int(match.group(3)) - 2
        return sum(calendar.monthrange(year, month)[1] for month in range(first, first + 3))
    return 366 if calendar.isleap(year) else 365


def _check_region(session: Session, scope: Scope, region: str) -> None:
    scope.require_role("admin", "official")
    if scope.write_prefix is None or not region_prefix(region).startswith(scope.write_prefix):
        raise Forbidden(
            f"region {region} lies outside what {scope.username} supervises", field="region"
        )
    if session.scalar(text("SELECT 1 FROM regions WHERE code = :code"), {"code": region}) is None:
        raise InvalidInput(f"region {region} does not exist", field="region")


_TARGETS_SQL = """
    SELECT e.id AS enterprise_id, e.name, e.risk_level, e.county_code, e.grid_code,
           g.warden_name,
           (SELECT i.user_id FROM inspections i
             WHERE i.enterprise_id = e.id{same_shard} AND i.kind = 'spot_check'
             ORDER BY i.inspected_at DESC, i.id DESC LIMIT 1) AS last_inspector
      FROM enterprises e
      LEFT JOIN grid_cells g ON g.code = e.grid_code
     WHERE {scope} AND e.risk_level IS NOT NULL
     ORDER BY e.id
"""


def build_pools(session: Session, *, scope: Scope, region: str, period: str) -> dict[str, Any]:
    """The pools of a draw for `region` and `period`, as they are now (see the module)."""
    days = period_days(period)
    filters = scope.filters("enterprises", region=region)
    rows = session.execute(
        text(
            _TARGETS_SQL.format(
                scope=filters.where("e"),
                same_shard=routing.same_shard(session.connection(), ("i", "e")),
            )
        ),
        filters.params(),
    ).mappings()
    prefix = region_prefix(region)
    officials = session.scalars(
        select(User)
        .where(
            User.role == "official",
            User.disabled.is_(False),
            User.region_code.startswith(prefix),
        )
        .order_by(User.id)
    ).all()
    inspectors = [
        {
            "user_id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "region_code": user.region_code,
        }
        for user in officials
    ]
    targets = []
    conflicts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        targets.append(
            {
                "enterprise_id": row["enterprise_id"],
                "name": row["name"],
                "risk_level": row["risk_level"],
                "county_code": row["county_code"],
                "grid_code": row["grid_code"],
            }
        )
        excluded = []
        for user in officials:
            if row["grid_code"] is not None and (
                row["grid_code"] in user.grid_cells
                or (row["warden_name"] and row["warden_name"] in (user.display_name, user.username))
            ):
                excluded.append({"user_id": user.id, "reason": "grid_warden"})
            elif row["last_inspector"] == user.id:
                excluded.append({"user_id": user.id, "reason": "last_inspector"})
        if excluded:
            conflicts[str(row["enterprise_id"])] = excluded
    if not targets:
        raise InvalidInput(
            f"region {region} has no graded enterprises to draw from", field="region"
        )
    per_target = parameters()["inspectors_per_target"]
    if len(inspectors) < per_target:
        raise InvalidInput(
            f"region {region} has {len(inspectors)} active official account(s) to draw"
            f" inspectors from; a draw needs at least {per_target} (inspectors per target)"
            f" — 该地区执法检查人员库仅{len(inspectors)}人，每个抽查对象需{per_target}名检查人员",
            field="region",
            inspectors=len(inspectors),
            needed=per_target,
        )
    return {
        "targets": targets,
        "inspectors": inspectors,
        "conflicts": conflicts,
        "intervals": frequencies()["spot_check"],
        "period_days": days,
        "per_target": per_target,
    }


def create_draw(
    session: Session, *, scope: Scope, region: str, period: str, seed: str | None
) -> dict[str, Any]:
    """Draw targets and inspectors for a region and period; store seed, pools and result."""
    _check_region(session, scope, region)
    pools = build_pools(session, scope=scope, region=region, period=period)
    seed = seed or secrets.token_hex(16)
    result = draw.derive(seed, pools)
    with atomic_write(session):
        row = SpotCheckDraw(
            region_code=region,
            period=period,
            seed=seed,
            method=draw.METHOD,
            user_id=scope.user_id,
            username=scope.username,
            pools=pools,
            result=result,
        )
        session.add(row)
        session.flush()
    session.refresh(row)
    return render_draw(row, result)


def render_draw(row: SpotCheckDraw, result: dict[str, Any]) -> dict[str, Any]:
    """A draw for the API: what was drawn, from what, by whom and how."""
    return {
        "id": row.id,
        "region": row.region_code,
        "period": row.period,
        "seed": row.seed,
        "method": row.method,
        "drawn_at": row.drawn_at.isoformat(),
        "drawn_by": row.username,
        "pool_sizes": {
            "targets": len(row.pools["targets"]),
            "inspectors": len(row.pools["inspectors"]),
            "conflicts": sum(len(c) for c in row.pools["conflicts"].values()),
        },
        "intervals": row.pools["intervals"],
        "period_days": row.pools["period_days"],
        "per_target": row.pools["per_target"],
        "targets": result["targets"],
        "inspectors": result["inspectors"],
    }


def draw_or_raise(session: Session, *, scope: Scope, id: int) -> SpotCheckDraw:
    """The draw if the caller supervises its region, else 404."""
    scope.require_role("admin", "official")
    row = session.scalars(select(SpotCheckDraw).where(SpotCheckDraw.id == id)).first()
    if row is None or not region_prefix(row.region_code).startswith(scope.read_prefix):
        raise NotFound(f"spot-check draw {id} not found", field="id")
    return row


def get_draw(session: Session, *, scope: Scope, id: int) -> dict[str, Any]:
    """A stored draw with its lists derived again from its seed and pools; `reproduced`
    says the same targets and inspectors were drawn as stored when it was drawn."""
    row = draw_or_raise(session, scope=scope, id=id)
    result = draw.derive(row.seed, row.pools)
    return {**render_draw(row, result), "reproduced": draw.drawn(result) == draw.drawn(row.result)}


def list_draws(session: Session, *, scope: Scope, region: str | None) -> dict[str, Any]:
    """The latest draws of regions the caller supervises, newest first (no lists)."""
    scope.require_role("admin", "official")
    prefix = scope.read_prefix
    if region is not None:
        wanted = region_prefix(region)
        if not wanted.startswith(prefix):
            return {"items": []}
        prefix = wanted
    rows = session.scalars(
        select(SpotCheckDraw)
        .where(SpotCheckDraw.region_code.startswith(prefix))
        .order_by(SpotCheckDraw.drawn_at.desc(), SpotCheckDraw.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return {
        "items": [
            {
                "id": row.id,
                "region": row.region_code,
                "period": row.period,
                "seed": row.seed,
                "drawn_at": row.drawn_at.isoformat(),
                "drawn_by": row.username,
                "targets": len(row.result["targets"]),
                "inspectors": len(row.result["inspectors"]),
            }
            for row in rows
        ]
    }


_PUBLIC_SQL = """
    SELECT e.id, e.name, e.credit_code FROM enterprises e WHERE e.id = ANY(:ids)
"""


def public_draw(session: Session, *, id: int) -> dict[str, Any]:
    """What the publication (公示) of a draw shows, signed out: period, region, seed, when
    it was drawn, the targets' names and credit codes with their inspectors' names, and
    the inspectors' names. Every stored draw is published (a draw is made to be
    published and never redrawn in place); no ids, accounts, contacts or pools."""
    row = session.scalars(select(SpotCheckDraw).where(SpotCheckDraw.id == id)).first()
    if row is None:
        raise NotFound(f"spot-check draw {id} not found", field="id")
    result = draw.derive(row.seed, row.pools)
    ids = [t["enterprise_id"] for t in result["targets"]]
    # Names and credit codes as registered now; the pool's name when the unit is gone.
    current = {
        r.id: (r.name, r.credit_code) for r in session.execute(text(_PUBLIC_SQL), {"ids": ids})
    }
    region_name = session.scalar(
        text("SELECT name FROM regions WHERE code = :code"), {"code": row.region_code}
    )
    return {
        "id": row.id,
        "region": row.region_code,
        "region_name": region_name,
        "period": row.period,
        "seed": row.seed,
        "method": row.method,
        "drawn_at": row.drawn_at.isoformat(),
        "targets": [
            {
                "name": current[t["enterprise_id"]][0]
                if t["enterprise_id"] in current
                else t["name"],
                "credit_code": current.get(t["enterprise_id"], (None, None))[1],
                "inspectors": t["inspector_names"],
            }
            for t in result["targets"]
        ],
        "inspectors": [draw.display_name(user) for user in result["inspectors"]],
    }
