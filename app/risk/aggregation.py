"""Four-colour aggregates per province, city, county and grid cell, and the regional level.

Counts live in `region_counts`, kept exact by database triggers on every write; the
regional level is computed from them on read by a method: the composite index (the
default, app/risk/regional_index.py, geodata/risk/regional_index.json) or one of
geodata/risk/regional_methods.json (highest, index). Every answer names the method and its
version.
"""

import json
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any, TypedDict, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from app.cluster import routing
from app.errors import InvalidInput, NotFound
from app.regions.service import get_region_or_raise
from app.risk import gb18218, regional_index
from app.risk.methods import LEVELS, higher_level, ruleset_version
from app.settings import GEODATA_DIR

GRADES = ("1", "2", "3", "4")


class HighestMethod(TypedDict):
    considers: list[str]  # count kinds, e.g. risk_points, hazard_sources


class Normalisation(TypedDict):
    unit: str
    per: float
    breaks: dict[str, float]  # lowest index value of red, orange and yellow


class IndexMethod(TypedDict):
    default_normalise: str
    weights: dict[str, float]  # per level
    counted: list[str]
    open_major_danger_weight: float
    normalise: dict[str, Normalisation]


class RegionalMethods(TypedDict):
    """geodata/risk/regional_methods.json."""

    version: str
    default: str
    source: str
    highest: HighestMethod
    index: IndexMethod


@cache
def regional_methods() -> RegionalMethods:
    """Return the regional-level methods (see geodata/risk/regional_methods.json)."""
    path = GEODATA_DIR / "risk" / "regional_methods.json"
    return cast(RegionalMethods, json.loads(path.read_text(encoding="utf-8")))


METHODS = ("composite", "highest", "index")


def resolve_method(method: str | None, normalise: str | None) -> tuple[str, str | None]:
    """Validate a method name (and its normalisation) against the data files."""
    config = regional_methods()
    method = method or regional_index.config()["default_method"]
    if method not in METHODS:
        raise InvalidInput(
            f"unknown regional method {method!r}", field="method", allowed=list(METHODS)
        )
    if method == "highest":
        return method, None
    if method == "composite":
        composite = regional_index.config()["normalise"]
        options: dict[str, Any] = dict(composite["options"])
        normalise = normalise or composite["default"]
    else:
        options = dict(config["index"]["normalise"])
        normalise = normalise or config["index"]["default_normalise"]
    if normalise not in options:
        raise InvalidInput(
            f"unknown normalisation {normalise!r}", field="normalise", allowed=list(options)
        )
    return method, normalise


def method_label(
    method: str, normalise: str | None, breaks: regional_index.Breaks | None = None
) -> str:
    """Name a method with its version, e.g. 'index/area@2026.11-1' or, with the time its
    breaks were computed, 'composite/area@2026.11-3+b20261129T083000'."""
    name = method if normalise is None else f"{method}/{normalise}"
    if method == "composite":
        version = breaks.version if breaks else ruleset_version()
        return f"{name}@{version}"
    return f"{name}@{ruleset_version()}"


def level_breaks(
    session: Session, method: str, normalise: str | None, unit_level: str
) -> regional_index.Breaks | None:
    """The composite index's breaks for units of `unit_level` (None for other methods)."""
    if method != "composite" or normalise is None:
        return None
    return regional_index.load_breaks(session, unit_level=unit_level, normalise=normalise)


def _by_level(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {level: counts.get(f"{prefix}.{level}", 0) for level in LEVELS}


def regional_level(
    counts: dict[str, int],
    *,
    area_km2: float,
    method: str,
    normalise: str | None,
    breaks: regional_index.Breaks | None = None,
) -> tuple[str | None, float | None]:
    """Return (level, index value) of a region from its counts."""
    config = regional_methods()
    if method == "composite":
        value = regional_index.score(counts, area_km2=area_km2, normalise=normalise or "area")
        return regional_index.classify(value, breaks), round(value, 4)
    if method == "highest":
        level: str | None = None
        for kind in config["highest"]["considers"]:
            if kind == "hazard_sources":
                for grade in GRADES:
                    if counts.get(f"hazard_sources.{grade}", 0):
                        level = higher_level(level, gb18218.grade_level(int(grade)))
                continue
            for candidate in LEVELS:
                if counts.get(f"{kind}.{candidate}", 0):
                    level = higher_level(level, candidate)
                    break
        return level, None
    index = config["index"]
    if normalise is None:
        raise InvalidInput(
            "the index method needs a normalisation",
            field="normalise",
            allowed=list(index["normalise"]),
        )
    weighted = sum(
        weight * counts.get(f"{kind}.{level}", 0)
        for kind in index["counted"]
        for level, weight in index["weights"].items()
    ) + index["open_major_danger_weight"] * counts.get("dangers.open_major", 0)
    option = index["normalise"][normalise]
    denominator = (
        area_km2 / option["per"] if normalise == "area" else counts.get("enterprises.total", 0)
    )
    if weighted == 0:
        return None, 0.0
    value = weighted / denominator if denominator else 0.0
    for level in ("red", "orange", "yellow"):
        if value >= option["breaks"][level]:
            return level, round(value, 3)
    return "blue", round(value, 3)


def summary_row(
    *,
    code: str,
    name: str,
    level: str,
    area_km2: float,
    counts: dict[str, int],
    method: str,
    normalise: str | None,
    breaks: regional_index.Breaks | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """Render one region's aggregates for the API; with `explain`, why it has its level
    under the composite index (score, breaks, contributors)."""
    regional, index_value = regional_level(
        counts, area_km2=area_km2, method=method, normalise=normalise, breaks=breaks
    )
    row = {
        "code": code,
        "name": name,
        "level": level,
        "counts": _by_level(counts, "risk_points"),
        "enterprises": _by_level(counts, "enterprises"),
        "public_zones": _by_level(counts, "public_zones"),
        "hazard_sources": {g: counts.get(f"hazard_sources.{g}", 0) for g in GRADES},
        "open_major_dangers": counts.get("dangers.open_major", 0),
        "open_dangers": counts.get("dangers.open", 0),
        "enterprises_total": counts.get("enterprises.total", 0),
        "regional_level": regional,
        "index": index_value,
        "method": method_label(method, normalise, breaks),
    }
    if explain and method == "composite" and normalise is not None:
        row["explain"] = regional_index.explain(
            counts, area_km2=area_km2, normalise=normalise, breaks=breaks, level=regional
        )
    return row


def counts_for(session: Session, codes: list[str]) -> dict[str, dict[str, int]]:
    """Every stored measure of each region, and its overdue open major dangers (a count of
    the day, not stored): {code: {measure: value}}."""
    table = routing.region_counts_table(session.connection())
    rows = session.execute(
        text(
            f"SELECT region_code, measure, sum(value) FROM {table}"
            " WHERE region_code = ANY(:codes) GROUP BY region_code, measure"
        ),
        {"codes": codes},
    ).all()
    counts: dict[str, dict[str, int]] = {code: {} for code in codes}
    for region_code, measure, value in rows:
        counts[region_code][measure] = value
    for code, overdue in regional_index.overdue_major_counts(session, codes).items():
        counts[code]["dangers.overdue_major"] = overdue
    return counts


_CHILD_UNITS_SQL = text("""
    SELECT code, name, level, area_km2 FROM regions WHERE parent_code = :parent
    UNION ALL
    SELECT g.code, g.name, 'grid', ST_Area(g.geom::geography) / 1e6 FROM grid_cells g
     WHERE g.county_code = :parent AND :parent_is_leaf
    ORDER BY code
""")


def summarise_children(
    session: Session, *, parent: str, method: str | None = None, normalise: str | None = None
) -> list[dict[str, Any]]:
    """One row per child region of `parent`, or per grid cell when `parent` is a county."""
    method, normalise = resolve_method(method, normalise)
    region = get_region_or_raise(session, code=parent)
    units = [
        u
        for u in session.execute(
            _CHILD_UNITS_SQL, {"parent": parent, "parent_is_leaf": region.is_leaf}
        ).all()
    ]
    counts = counts_for(session, [u.code for u in units])
    breaks = level_breaks(session, method, normalise, units[0].level) if units else None
    return [
        summary_row(
            code=u.code,
            name=u.name,
            level=u.level,
            area_km2=u.area_km2,
            counts=counts[u.code],
            method=method,
            normalise=normalise,
            breaks=breaks,
        )
        for u in units
    ]


def summarise_region(
    session: Session, *, code: str, method: str | None = None, normalise: str | None = None
) -> dict[str, Any]:
    """The aggregates of one region or grid cell."""
    method, normalise = resolve_method(method, normalise)
    unit = session.execute(
        text("""
        SELECT code, name, level, area_km2 FROM regions WHERE code = :code
        UNION ALL
        SELECT code, name, 'grid', ST_Area(geom::geography) / 1e6 FROM grid_cells WHERE code = :code
    """),
        {"code": code},
    ).first()
    if unit is None:
        raise NotFound(f"region {code} not found", field="code")
    counts = counts_for(session, [code])[code]
    return summary_row(
        code=unit.code,
        name=unit.name,
        level=unit.level,
        area_km2=unit.area_km2,
        counts=counts,
        method=method,
        normalise=normalise,
        breaks=level_breaks(session, method, normalise, unit.level),
        explain=True,
    )


def take_snapshot(session: Session, *, day: date) -> int:
    """Store today's counts (non-zero) as the snapshot of `day`, replacing an earlier one."""
    session.execute(text("DELETE FROM region_count_snapshots WHERE day = :day"), {"day": day})
    result = session.execute(
        text("""
        INSERT INTO region_count_snapshots (day, region_code, measure, value)
        SELECT :day, region_code, measure, value FROM region_counts WHERE value <> 0
    """),
        {"day": day},
    )
    if not isinstance(result, CursorResult):  # what a statement run on a connection gives
        raise TypeError(f"expected a CursorResult, got {type(result).__name__}")
    overdue = session.execute(
        text(f"""
        WITH d AS MATERIALIZED (  -- on Citus: gathered first, the lineage then looked up once
            SELECT county_code FROM hidden_dangers WHERE {regional_index.OVERDUE_MAJOR_SQL})
        INSERT INTO region_count_snapshots (day, region_code, measure, value)
        SELECT :day, code, 'dangers.overdue_major', n FROM (
            SELECT l.code, count(*) AS n FROM d
             CROSS JOIN LATERAL region_lineage(d.county_code) AS l(code)
             GROUP BY l.code) x
    """),
        regional_index.overdue_params(day),
    )
    return result.rowcount + (overdue.rowcount if isinstance(overdue, CursorResult) else 0)


TREND_FIELDS = (
    "counts",
    "enterprises",
    "public_zones",
    "hazard_sources",
    "open_major_dangers",
    "regional_level",
    "index",
)


def trend_points(
    rows: Sequence[Any],
    *,
    code: str,
    name: str,
    level: str,
    area_km2: float,
    method: str,
    normalise: str | None,
    breaks: regional_index.Breaks | None = None,
) -> list[dict[str, Any]]:
    """One point a day from (day, measure, value) snapshot rows, ordered by day (classed by
    today's breaks, so a change of level is a change of the region, not of its peers)."""
    days: dict[date, dict[str, int]] = {}
    for day, measure, value in rows:
        days.setdefault(day, {})[measure] = int(value)
    points = []
    for day, counts in days.items():
        row = summary_row(
            code=code,
            name=name,
            level=level,
            area_km2=area_km2,
            counts=counts,
            method=method,
            normalise=normalise,
            breaks=breaks,
        )
        points.append({"date": day.isoformat(), **{k: row[k] for k in TREND_FIELDS}})
    return points


def trend(
    session: Session,
    *,
    code: str,
    start: date,
    end: date,
    method: str | None = None,
    normalise: str | None = None,
) -> dict[str, Any]:
    """The daily snapshots of one region between two dates (inclusive)."""
    if start > end:
        raise InvalidInput("from must not be after to", field="from")
    method, normalise = resolve_method(method, normalise)
    current = summarise_region(session, code=code, method=method, normalise=normalise)
    area = session.execute(
        text("""
        SELECT area_km2 FROM regions WHERE code = :code
        UNION ALL SELECT ST_Area(geom::geography) / 1e6 FROM grid_cells WHERE code = :code
    """),
        {"code": code},
    ).scalar_one()
    rows = session.execute(
        text("""
        SELECT day, measure, value FROM region_count_snapshots
         WHERE region_code = :code AND day BETWEEN :start AND :end ORDER BY day
    """),
        {"code": code, "start": start, "end": end},
    ).all()
    points = trend_points(
        rows,
        code=code,
        name=current["name"],
        level=current["level"],
        area_km2=area,
        method=method,
        normalise=normalise,
        breaks=level_breaks(session, method, normalise, current["level"]),
    )
    return {
        "code": code,
        "name": current["name"],
        "method": current["method"],
        "from": start.isoformat(),
        "to": end.isoformat(),
        "points": points,
    }
